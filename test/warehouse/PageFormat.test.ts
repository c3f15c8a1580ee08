import { describe, expect, it } from "@effect/vitest"
import {
  anchorOf,
  code,
  escapeHtml,
  type Page,
  paragraph,
  renderHtml,
  renderMarkdown,
  table
} from "../../src/warehouse/PageFormat.ts"

const pageOf = (...blocks: Page["sections"][number]["blocks"]): Page => ({
  title: "Title",
  intro: [],
  sections: [{ title: "Only section", blocks }]
})

describe("Page HTML", () => {
  it("escapes the five special characters", () => {
    expect(escapeHtml("<a href=\"x\">Tom & 'Jerry'</a>")).toBe(
      "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
    )
  })

  it("escapes code blocks", () => {
    const html = renderHtml(pageOf(code("sql", "SELECT '<script>alert(1)</script>' WHERE a < b && c > d")))

    expect(html).toContain(
      "<pre><code class=\"language-sql\">SELECT &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39; WHERE a &lt; b &amp;&amp; c &gt; d</code></pre>"
    )
    expect(html).not.toContain("<script>")
  })

  it("escapes text around inline code", () => {
    const html = renderHtml(pageOf(paragraph("Use `a<b` when x & y")))

    expect(html).toContain("<p>Use <code>a&lt;b</code> when x &amp; y</p>")
  })

  it("links sections by anchor", () => {
    const html = renderHtml(pageOf(paragraph("text")))

    expect(html).toContain("<a href=\"#only-section\">Only section</a>")
    expect(html).toContain("<section id=\"only-section\">")
  })

  it("loads no other file", () => {
    const html = renderHtml(pageOf(paragraph("text")))

    expect(html).not.toMatch(/<script|<link|<img|src=|url\(|@import/i)
  })
})

describe("Page Markdown", () => {
  it("lengthens fence around backticks", () => {
    const markdown = renderMarkdown(pageOf(code("md", "```sql\nSELECT 1\n```")))

    expect(markdown).toContain("````md\n```sql\nSELECT 1\n```\n````")
  })

  it("escapes pipes in table cells", () => {
    const markdown = renderMarkdown(pageOf(table(["A"], [["x | y and `a|b`"]])))

    expect(markdown).toContain("| x \\| y and `a\\|b` |")
  })

  it("escapes emphasis and HTML in text", () => {
    const markdown = renderMarkdown(pageOf(paragraph("snake_case *bold* <b> and `keep_*<b>`")))

    expect(markdown).toContain("snake\\_case \\*bold\\* \\<b\\> and `keep_*<b>`")
  })

  it("numbers contents with anchors", () => {
    const markdown = renderMarkdown(pageOf(paragraph("text")))

    expect(markdown).toContain("1. [Only section](#only-section)")
    expect(markdown).toContain("\n## Only section\n")
  })

  it("keeps inline code in contents", () => {
    const markdown = renderMarkdown({ title: "Title", intro: [], sections: [{ title: "The `snake_case` view", blocks: [] }] })

    expect(markdown).toContain("1. [The `snake_case` view](#the-snake_case-view)")
  })
})

describe("Page text", () => {
  it("rejects an unpaired backtick", () => {
    expect(() => renderHtml(pageOf(paragraph("a `b")))).toThrow("unpaired backtick")
    expect(() => renderMarkdown(pageOf(paragraph("a `b")))).toThrow("unpaired backtick")
  })

  it("anchor matches GitHub headings", () => {
    expect(anchorOf("PostgreSQL foreign data wrapper (for Snowflake and other warehouses)")).toBe(
      "postgresql-foreign-data-wrapper-for-snowflake-and-other-warehouses"
    )
    expect(anchorOf("Row-level security and limits")).toBe("row-level-security-and-limits")
    expect(anchorOf("`warehouse_skill_progress`")).toBe("warehouse_skill_progress")
  })
})
