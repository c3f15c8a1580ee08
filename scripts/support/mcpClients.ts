/**
 * MCP clients of the benchmark scripts, built on the official SDK client:
 * one per transport the service offers, and the local stdio binary.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

/** Path of the stdio binary that `npm run build` writes. */
export const stdioBinaryPath = fileURLToPath(new URL("../../dist/saleslab-mcp.js", import.meta.url))

/** Transport of an MCP client: one of the service's two HTTP transports, or the stdio binary that calls the REST API. */
export type McpTransportKind = "streamable-http" | "sse" | "stdio"

export const mcpTransportKinds: ReadonlyArray<McpTransportKind> = ["streamable-http", "sse", "stdio"]

/** Display name of each transport in progress lines and reports. */
export const transportLabels: Record<McpTransportKind, string> = {
  "streamable-http": "Streamable HTTP (POST /mcp)",
  sse: "SSE (GET /mcp/sse)",
  stdio: "stdio (node dist/saleslab-mcp.js)"
}

/** Tool call result, with the fields that the scripts read. */
export interface ToolCallResult {
  readonly content: ReadonlyArray<{ readonly type: string; readonly text?: string }>
  readonly structuredContent?: unknown
  readonly isError?: boolean
}

/**
 * Builds a client transport of `kind` for the service at `baseUrl` with
 * `token` as its bearer token. The stdio transport starts the binary with
 * Node when the client connects. The binary's environment contains only
 * `PATH`, `SALESLAB_API_URL` and `SALESLAB_API_TOKEN`, and the last 20
 * lines it writes to stderr are kept in `stderrLines`.
 */
export const makeTransport = (
  kind: McpTransportKind,
  baseUrl: string,
  token: string,
  stderrLines: Array<string> = []
): Transport => {
  const headers = { Authorization: `Bearer ${token}` }
  switch (kind) {
    case "streamable-http":
      return new StreamableHTTPClientTransport(new URL(`${baseUrl}/mcp`), { requestInit: { headers } })
    case "sse":
      return new SSEClientTransport(new URL(`${baseUrl}/mcp/sse`), { requestInit: { headers } })
    case "stdio": {
      if (!existsSync(stdioBinaryPath)) throw new Error(`Stdio binary not found at ${stdioBinaryPath}. Run npm run build first.`)
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [stdioBinaryPath],
        env: { PATH: process.env.PATH ?? "", SALESLAB_API_URL: baseUrl, SALESLAB_API_TOKEN: token },
        stderr: "pipe"
      })
      transport.stderr?.on("data", (chunk: Buffer) => {
        stderrLines.push(...chunk.toString("utf8").split("\n").filter((line) => line !== ""))
        stderrLines.splice(0, Math.max(0, stderrLines.length - 20))
      })
      return transport
    }
  }
}

export const newClient = (): Client => new Client({ name: "saleslab-benchmark", version: "0.0.0" })

/** Calls the tool `name` and throws when the call fails or the tool returns an error. */
export const callToolOrThrow = async (client: Client, name: string, args: Record<string, unknown>): Promise<ToolCallResult> => {
  const result = (await client.callTool({ name, arguments: args })) as ToolCallResult
  if (result.isError === true) throw new Error(`${name} returned an error: ${result.content[0]?.text ?? "no text"}`)
  return result
}
