/** Path of the Streamable HTTP transport. */
export const streamablePath = "/mcp"

/** Path of the legacy HTTP+SSE transport's event stream. */
export const ssePath = "/mcp/sse"

/** Path where clients of the SSE transport post their messages. The stream announces it with the session id. */
export const sseMessagesPath = "/mcp/messages"

/** Returns whether a request URL is one of the MCP server's, whose clients read JSON-RPC errors. */
export const isMcpPath = (url: string) => {
  const path = url.split("?")[0]!
  return path === streamablePath || path.startsWith(`${streamablePath}/`)
}
