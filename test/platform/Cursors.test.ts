import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createTenant, sendAs } from "../support/Tenants.ts"
import { TestServerLive, testOperatorToken } from "../support/TestServer.ts"

/** A cursor in the service's format with the given time and id. */
const cursorOf = (time: string, id: string) => Buffer.from(JSON.stringify([time, id])).toString("base64url")

/** Cursors that no list issues, or that only a list with text ids issues. */
const crafted = {
  "time before year 1": cursorOf("-271821-04-20T00:00:00.000Z", "00000000-0000-0000-0000-000000000000"),
  "time after year 9999": cursorOf("+275760-09-13T00:00:00.000Z", "00000000-0000-0000-0000-000000000000"),
  "id with NUL": cursorOf("2026-01-01T00:00:00.000Z", "1\u0000"),
  "subscription id": cursorOf("2026-01-01T00:00:00.000Z", "sub_abcdefghijklmnopqrstuvwx"),
  "id past bigint": cursorOf("2026-01-01T00:00:00.000Z", "9999999999999999999"),
  "UUID id": cursorOf("2026-01-01T00:00:00.000Z", "00000000-0000-4000-8000-000000000001")
}

/** The message of every rejected cursor, the same on every list. */
const invalidCursorMessage = "Invalid cursor: pass the next_cursor of the previous page unchanged, or omit it for the first page."

describe("List cursors", () => {
  it.layer(TestServerLive())((it) => {
    it.effect("crafted cursors are a 400 on every list", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Cursors")
        const user = yield* sendAs(token, "POST", "/v1/users", { email: "cursor@example.com", name: "Cursor" })
        expect(user.status).toBe(201)
        const subscription = yield* sendAs(token, "POST", "/v1/webhooks", { url: "http://127.0.0.1:9/hook" })
        expect(subscription.status).toBe(201)

        // Each list, with the crafted cursors it must reject; ids of other types may be valid text ids.
        const lists: ReadonlyArray<{ readonly path: string; readonly token: string; readonly rejects: ReadonlyArray<keyof typeof crafted> }> = [
          { path: "/v1/users", token, rejects: ["time before year 1", "time after year 9999", "id with NUL", "subscription id", "id past bigint"] },
          { path: "/v1/api-tokens", token, rejects: ["time before year 1", "time after year 9999", "id with NUL", "subscription id", "id past bigint"] },
          { path: "/v1/warehouse/credentials", token, rejects: ["time before year 1", "time after year 9999", "id with NUL", "subscription id", "id past bigint"] },
          { path: "/v1/sessions", token, rejects: ["time before year 1", "time after year 9999", "id with NUL", "subscription id", "id past bigint"] },
          { path: "/v1/assignments", token, rejects: ["time before year 1", "time after year 9999", "id with NUL", "subscription id", "id past bigint"] },
          { path: "/v1/webhooks", token, rejects: ["time before year 1", "time after year 9999", "id with NUL", "id past bigint", "UUID id"] },
          // A badge slug is lower-case letters, digits and underscores, which the subscription id and the digits also are.
          { path: `/v1/users/${user.body.id}/badges`, token, rejects: ["time before year 1", "time after year 9999", "id with NUL", "UUID id"] },
          {
            path: `/v1/webhooks/${subscription.body.id}/deliveries`,
            token,
            rejects: ["time before year 1", "time after year 9999", "id with NUL", "subscription id", "id past bigint", "UUID id"]
          },
          {
            path: "/api/admin/wage-index",
            token: testOperatorToken,
            rejects: ["time before year 1", "time after year 9999", "id with NUL", "subscription id", "id past bigint"]
          }
        ]

        for (const list of lists) {
          for (const [name, cursor] of Object.entries(crafted)) {
            const label = `${list.path} with ${name}`
            const response = yield* sendAs(list.token, "GET", `${list.path}?cursor=${cursor}`)
            if (list.rejects.includes(name as keyof typeof crafted)) {
              expect(response.status, label).toBe(400)
              expect(response.body.field, label).toBe("cursor")
              expect(response.body.message, label).toBe(invalidCursorMessage)
            } else {
              expect(response.status, label).toBe(200)
            }
          }
        }
      }))
  })
})
