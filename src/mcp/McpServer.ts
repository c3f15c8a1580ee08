import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js"
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import { CallToolRequestSchema, type CallToolResult, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { tools, type ToolResult } from "./Tools.ts"

/** Name and version the server reports to MCP clients when they connect. */
export const mcpServerInfo = { name: "saleslab", title: "Sales Lab", version: "0.1.0" } as const

const instructions = "Sales Lab tools for one company: read scorecards, recent practice sessions and coaching briefs, " +
  "create practice scenarios and start practice calls. Ids are UUIDs. Reads need a token with the read scope, " +
  "create_scenario and start_practice_call the write scope."

/** The `tools/list` entries, built once from the catalog. */
const toolList = tools.map((tool) => ({
  name: tool.name,
  title: tool.title,
  description: tool.description,
  inputSchema: tool.inputJsonSchema,
  outputSchema: tool.outputJsonSchema,
  annotations: {
    title: tool.title,
    readOnlyHint: tool.scope === "read",
    destructiveHint: false,
    idempotentHint: tool.scope === "read",
    openWorldHint: false
  }
}))

/**
 * Runs one tool call: `name` and `args` as the client sent them, and the
 * credentials of the HTTP request that carried the call, if any.
 */
export type ToolCaller = (name: string, args: unknown, authInfo: AuthInfo | undefined) => Promise<ToolResult>

/**
 * Builds an MCP server that lists the tool catalog and runs each call
 * through `callTool`. One server serves one transport.
 */
export const makeMcpServer = (callTool: ToolCaller): Server => {
  const server = new Server(mcpServerInfo, { capabilities: { tools: {} }, instructions })
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: toolList }))
  server.setRequestHandler(
    CallToolRequestSchema,
    (request, extra) => callTool(request.params.name, request.params.arguments, extra.authInfo) as Promise<CallToolResult>
  )
  return server
}
