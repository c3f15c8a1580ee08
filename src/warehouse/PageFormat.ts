/**
 * Document model and renderers for pages that the service serves as HTML and
 * the repository stores as Markdown. Text in paragraphs, list items and table
 * cells may contain inline code between backticks but no other markup, so
 * both renderers can escape everything outside the code.
 */

/** Content block of a section or of the page introduction. */
export type Block =
  | { readonly _tag: "Paragraph"; readonly text: string }
  | { readonly _tag: "Subheading"; readonly text: string }
  | { readonly _tag: "List"; readonly ordered: boolean; readonly items: ReadonlyArray<string> }
  | { readonly _tag: "Table"; readonly header: ReadonlyArray<string>; readonly rows: ReadonlyArray<ReadonlyArray<string>> }
  | { readonly _tag: "Code"; readonly language: string; readonly code: string }

/** Titled part of a page, with one entry in its table of contents. */
export interface Section {
  readonly title: string
  readonly blocks: ReadonlyArray<Block>
}

/** Complete page: title, introduction and sections. */
export interface Page {
  readonly title: string
  readonly intro: ReadonlyArray<Block>
  readonly sections: ReadonlyArray<Section>
}

export const paragraph = (text: string): Block => ({ _tag: "Paragraph", text })
export const subheading = (text: string): Block => ({ _tag: "Subheading", text })
export const bullets = (...items: ReadonlyArray<string>): Block => ({ _tag: "List", ordered: false, items })
export const steps = (...items: ReadonlyArray<string>): Block => ({ _tag: "List", ordered: true, items })
export const code = (language: string, text: string): Block => ({ _tag: "Code", language, code: text })
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): Block => ({
  _tag: "Table",
  header,
  rows
})

/**
 * Converts a title to the anchor that GitHub gives its heading: lower case,
 * with every character other than a letter, digit, underscore, space or
 * hyphen removed and spaces turned into hyphens. The HTML page uses the same
 * ids, so links to a section work on both.
 */
export const anchorOf = (title: string): string =>
  title.toLowerCase().replace(/[^\p{L}\p{N}_ -]/gu, "").replace(/ /g, "-")

/**
 * Splits text into alternating plain and inline-code parts, starting with
 * plain text. Throws on an unpaired backtick, because the two renderers would
 * otherwise disagree on where the code ends.
 */
const splitInlineCode = (text: string): ReadonlyArray<string> => {
  const parts = text.split("`")
  if (parts.length % 2 === 0) {
    throw new Error(`Invalid page text, unpaired backtick: ${JSON.stringify(text)}. Close the inline code with a second backtick.`)
  }
  return parts
}

// HTML

/** Escapes the five characters that are special in HTML text and attribute values. */
export const escapeHtml = (text: string): string =>
  text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;")

const inlineHtml = (text: string): string =>
  splitInlineCode(text)
    .map((part, index) => index % 2 === 1 ? `<code>${escapeHtml(part)}</code>` : escapeHtml(part))
    .join("")

const blockHtml = (block: Block): string => {
  switch (block._tag) {
    case "Paragraph":
      return `<p>${inlineHtml(block.text)}</p>`
    case "Subheading":
      return `<h3>${inlineHtml(block.text)}</h3>`
    case "List": {
      const tag = block.ordered ? "ol" : "ul"
      return `<${tag}>\n${block.items.map((item) => `<li>${inlineHtml(item)}</li>`).join("\n")}\n</${tag}>`
    }
    case "Table": {
      const head = block.header.map((cell) => `<th>${inlineHtml(cell)}</th>`).join("")
      const rows = block.rows.map((row) => `<tr>${row.map((cell) => `<td>${inlineHtml(cell)}</td>`).join("")}</tr>`)
      return `<div class="table"><table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${rows.join("\n")}\n</tbody>\n</table></div>`
    }
    case "Code":
      return `<pre><code class="language-${escapeHtml(block.language)}">${escapeHtml(block.code)}</code></pre>`
  }
}

/** Style sheet of the HTML page, inline so that the page loads nothing else. */
const pageCss = `
:root { color-scheme: light dark; --text: #1f2328; --muted: #59636e; --line: #d1d9e0; --code-bg: #f6f8fa; --link: #0969da; }
@media (prefers-color-scheme: dark) {
  :root { --text: #e6edf3; --muted: #9198a1; --line: #3d444d; --code-bg: #151b23; --link: #4493f8; }
}
* { box-sizing: border-box; }
body { margin: 0; color: var(--text); background: Canvas; font: 16px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 56rem; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
h1 { font-size: 2rem; line-height: 1.25; margin: 0 0 1rem; }
h2 { font-size: 1.5rem; margin: 2.5rem 0 1rem; padding-bottom: 0.3rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.15rem; margin: 1.75rem 0 0.75rem; }
a { color: var(--link); }
nav ol { columns: 2; padding-left: 1.5rem; }
code { font: 0.875em/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--code-bg); padding: 0.1em 0.3em; border-radius: 4px; }
pre { background: var(--code-bg); border: 1px solid var(--line); border-radius: 6px; padding: 0.85rem 1rem; overflow-x: auto; }
pre code { padding: 0; background: none; font-size: 0.85rem; }
.table { overflow-x: auto; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid var(--line); padding: 0.4rem 0.75rem; text-align: left; vertical-align: top; }
th { background: var(--code-bg); }
@media (max-width: 40rem) { nav ol { columns: 1; } }
`.trim()

/**
 * Renders a page as one self-contained HTML document. The style sheet is
 * inline, and the page has no script, image, font or link to another file.
 */
export const renderHtml = (page: Page): string => {
  const contents = page.sections.map((section) =>
    `<li><a href="#${anchorOf(section.title)}">${inlineHtml(section.title)}</a></li>`
  )
  const sections = page.sections.map((section) =>
    [
      `<section id="${anchorOf(section.title)}">`,
      `<h2>${inlineHtml(section.title)}</h2>`,
      ...section.blocks.map(blockHtml),
      "</section>"
    ].join("\n")
  )
  return [
    "<!doctype html>",
    "<html lang=\"en\">",
    "<head>",
    "<meta charset=\"utf-8\">",
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
    `<title>${escapeHtml(page.title)}</title>`,
    `<style>\n${pageCss}\n</style>`,
    "</head>",
    "<body>",
    "<main>",
    `<h1>${inlineHtml(page.title)}</h1>`,
    ...page.intro.map(blockHtml),
    `<nav aria-label="Contents">\n<ol>\n${contents.join("\n")}\n</ol>\n</nav>`,
    ...sections,
    "</main>",
    "</body>",
    "</html>",
    ""
  ].join("\n")
}

// Markdown

/**
 * Escapes the characters that Markdown reads as emphasis, links, HTML or
 * escapes in plain text. Inside a table cell it escapes `|` as well.
 */
const escapeMarkdownText = (text: string, inTable: boolean): string => {
  const escaped = text.replace(/[\\*_[\]<>]/g, (character) => `\\${character}`)
  return inTable ? escaped.replace(/\|/g, "\\|") : escaped
}

const inlineMarkdown = (text: string, inTable = false): string =>
  splitInlineCode(text)
    .map((part, index) => {
      if (index % 2 === 0) return escapeMarkdownText(part, inTable)
      // GitHub reads `\|` inside a code span of a table cell as a literal pipe.
      return `\`${inTable ? part.replace(/\|/g, "\\|") : part}\``
    })
    .join("")

/** Returns a backtick fence one longer than the longest run of backticks in `text`, and at least three long. */
const fenceFor = (text: string): string => {
  const maxRun = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length))
  return "`".repeat(Math.max(3, maxRun + 1))
}

const blockMarkdown = (block: Block): string => {
  switch (block._tag) {
    case "Paragraph":
      return inlineMarkdown(block.text)
    case "Subheading":
      return `### ${inlineMarkdown(block.text)}`
    case "List":
      return block.items.map((item, index) => `${block.ordered ? `${index + 1}.` : "-"} ${inlineMarkdown(item)}`).join("\n")
    case "Table": {
      const row = (cells: ReadonlyArray<string>) => `| ${cells.map((cell) => inlineMarkdown(cell, true)).join(" | ")} |`
      return [row(block.header), `|${block.header.map(() => "---").join("|")}|`, ...block.rows.map(row)].join("\n")
    }
    case "Code": {
      const fence = fenceFor(block.code)
      return `${fence}${block.language}\n${block.code}\n${fence}`
    }
  }
}

/**
 * Renders a page as GitHub-flavoured Markdown, with `preamble` (such as a
 * comment naming the generator) right after the title.
 */
export const renderMarkdown = (page: Page, preamble: ReadonlyArray<string> = []): string => {
  const contents = page.sections.map((section, index) =>
    `${index + 1}. [${inlineMarkdown(section.title)}](#${anchorOf(section.title)})`
  )
  const parts = [
    `# ${inlineMarkdown(page.title)}`,
    ...preamble,
    ...page.intro.map(blockMarkdown),
    contents.join("\n"),
    ...page.sections.flatMap((section) => [`## ${inlineMarkdown(section.title)}`, ...section.blocks.map(blockMarkdown)])
  ]
  return `${parts.join("\n\n")}\n`
}
