import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { randomUUID } from "node:crypto"
import { sha256Hex } from "../../src/platform/Secrets.ts"
import { ApiTokenId } from "../../src/tenancy/Api.ts"
import { apiClient, TestServerLive } from "../support/TestServer.ts"
import { createCompany, sendRaw } from "./fixtures.ts"

/** A company's admin client, as a fresh tenant for one test. */
const adminOf = (name: string) =>
  Effect.flatMap(createCompany(name), (created) => Effect.map(apiClient(created.admin_token), (client) => ({ client, created })))

describe("API tokens", () => {
  it.layer(TestServerLive())((it) => {
    it.effect("minted token works", () =>
      Effect.gen(function*() {
        const { client } = yield* adminOf("Mint Co")
        const minted = yield* client.apiTokens.create({ payload: { name: "CRM sync" } })
        expect(minted.name).toBe("CRM sync")
        expect(minted.scopes).toEqual(["read", "write"])
        expect(minted.token).toMatch(/^sl_token_[0-9A-Za-z]{40}$/)
        expect(minted.token_prefix).toBe(minted.token.slice(0, 12))
        expect(minted.token_prefix).toHaveLength(12)

        const minter = yield* apiClient(minted.token)
        const me = yield* minter.me.get()
        expect(me.token).toEqual({ id: minted.id, name: "CRM sync", scopes: ["read", "write"], default_user_id: null })
      }))

    it.effect("list never shows the token text", () =>
      Effect.gen(function*() {
        const { client, created } = yield* adminOf("List Co")
        const minted = yield* client.apiTokens.create({ payload: { name: "Warehouse", scopes: ["read"] } })

        const response = yield* sendRaw("GET", "/v1/api-tokens", { token: created.admin_token })
        expect(response.status).toBe(200)
        expect(response.body.next_cursor).toBeNull()
        const listed = response.body.data.find((token: { id: string }) => token.id === minted.id)
        expect(Object.keys(listed).sort()).toEqual(
          ["created_at", "default_user_id", "id", "last_used_at", "name", "revoked_at", "scopes", "token_prefix"]
        )
        expect(listed.scopes).toEqual(["read"])
        expect(listed.default_user_id).toBeNull()
        expect(listed.revoked_at).toBeNull()
        expect(JSON.stringify(response.body)).not.toContain(minted.token)
        expect(JSON.stringify(response.body)).not.toContain(created.admin_token)
      }))

    it.effect("only the hash is stored", () =>
      Effect.gen(function*() {
        const { client } = yield* adminOf("Hash Co")
        const minted = yield* client.apiTokens.create({ payload: { name: "Hashed" } })
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<Record<string, unknown>>`SELECT * FROM api_tokens WHERE id = ${minted.id}`
        expect(rows).toHaveLength(1)
        expect(rows[0]?.token_hash).toBe(sha256Hex(minted.token))
        expect(rows[0]?.token_prefix).toBe(minted.token_prefix)
        const stored = JSON.stringify(rows[0])
        expect(stored).not.toContain(minted.token)
        expect(stored).not.toContain(minted.token.slice(9))
      }))

    it.effect("revoked token is rejected on the next request", () =>
      Effect.gen(function*() {
        const { client } = yield* adminOf("Revoke Co")
        const minted = yield* client.apiTokens.create({ payload: { name: "Short lived" } })
        const holder = yield* apiClient(minted.token)
        yield* holder.me.get()

        yield* client.apiTokens.revoke({ path: { id: minted.id } })
        const error = yield* Effect.flip(holder.me.get())
        expect(error._tag).toBe("Unauthorized")
        expect(error.message).toContain("revoked")

        const page = yield* client.apiTokens.list({ urlParams: { limit: 100 } })
        const listed = page.data.find((token) => token.id === minted.id)
        expect(listed?.revoked_at).toBeInstanceOf(Date)
      }))

    it.effect("revoke is 204 and idempotent", () =>
      Effect.gen(function*() {
        const { client, created } = yield* adminOf("Idempotent Co")
        const minted = yield* client.apiTokens.create({ payload: { name: "Twice" } })
        const first = yield* sendRaw("DELETE", `/v1/api-tokens/${minted.id}`, { token: created.admin_token })
        expect(first.status).toBe(204)
        expect(first.body).toBeNull()
        const revokedAt = (yield* client.apiTokens.list({ urlParams: { limit: 100 } })).data
          .find((token) => token.id === minted.id)?.revoked_at

        yield* TestClock.adjust("1 hour")
        const second = yield* sendRaw("DELETE", `/v1/api-tokens/${minted.id}`, { token: created.admin_token })
        expect(second.status).toBe(204)
        const afterSecond = (yield* client.apiTokens.list({ urlParams: { limit: 100 } })).data
          .find((token) => token.id === minted.id)?.revoked_at
        expect(afterSecond).toEqual(revokedAt)
      }))

    it.effect("a token can revoke itself", () =>
      Effect.gen(function*() {
        const { client, created } = yield* adminOf("Self Co")
        const me = yield* client.me.get()
        yield* client.apiTokens.revoke({ path: { id: me.token.id } })
        const response = yield* sendRaw("GET", "/v1/me", { token: created.admin_token })
        expect(response.status).toBe(401)
      }))

    it.effect("read-only token cannot mint or list tokens", () =>
      Effect.gen(function*() {
        const { client } = yield* adminOf("Scope Co")
        const reader = yield* client.apiTokens.create({ payload: { name: "Reader", scopes: ["read"] } })
        const readerClient = yield* apiClient(reader.token)

        const mintError = yield* Effect.flip(readerClient.apiTokens.create({ payload: { name: "Escalate", scopes: ["admin"] } }))
        expect(mintError._tag).toBe("Forbidden")
        expect(mintError.message).toContain("admin")

        const listError = yield* Effect.flip(readerClient.apiTokens.list({ urlParams: { limit: 20 } }))
        expect(listError._tag).toBe("Forbidden")

        const revokeError = yield* Effect.flip(readerClient.apiTokens.revoke({ path: { id: reader.id } }))
        expect(revokeError._tag).toBe("Forbidden")
        const stillWorks = yield* readerClient.me.get()
        expect(stillWorks.token.id).toBe(reader.id)
      }))

    it.effect("another tenant's token id is 404", () =>
      Effect.gen(function*() {
        const first = yield* adminOf("Tenant One")
        const second = yield* adminOf("Tenant Two")
        const victim = yield* first.client.apiTokens.create({ payload: { name: "Victim" } })

        const error = yield* Effect.flip(second.client.apiTokens.revoke({ path: { id: victim.id } }))
        expect(error._tag).toBe("NotFound")
        const victimClient = yield* apiClient(victim.token)
        expect((yield* victimClient.me.get()).token.id).toBe(victim.id)

        const secondList = yield* second.client.apiTokens.list({ urlParams: { limit: 100 } })
        expect(secondList.data.map((token) => token.id)).not.toContain(victim.id)
      }))

    it.effect("unknown or malformed token id", () =>
      Effect.gen(function*() {
        const { client, created } = yield* adminOf("Unknown Co")
        const error = yield* Effect.flip(client.apiTokens.revoke({ path: { id: ApiTokenId.make(randomUUID()) } }))
        expect(error._tag).toBe("NotFound")

        const malformed = yield* sendRaw("DELETE", "/v1/api-tokens/not-a-uuid", { token: created.admin_token })
        expect(malformed.status).toBe(400)
        expect(malformed.body.message).toContain("id")
      }))

    it.effect("unknown scope is 400 naming scopes", () =>
      Effect.gen(function*() {
        const { created } = yield* adminOf("Bad Scope Co")
        const unknown = yield* sendRaw("POST", "/v1/api-tokens", {
          token: created.admin_token,
          body: { name: "Root", scopes: ["read", "superuser"] }
        })
        expect(unknown.status).toBe(400)
        expect(unknown.body.message).toContain("scopes")

        const empty = yield* sendRaw("POST", "/v1/api-tokens", {
          token: created.admin_token,
          body: { name: "Nothing", scopes: [] }
        })
        expect(empty.status).toBe(400)
        expect(empty.body.message).toContain("scopes")

        const blankName = yield* sendRaw("POST", "/v1/api-tokens", { token: created.admin_token, body: { name: " " } })
        expect(blankName.status).toBe(400)
        expect(blankName.body.message).toContain("name")
      }))

    it.effect("scopes are deduplicated and ordered", () =>
      Effect.gen(function*() {
        const { client } = yield* adminOf("Order Co")
        const minted = yield* client.apiTokens.create({ payload: { name: "Mixed", scopes: ["admin", "read", "admin"] } })
        expect(minted.scopes).toEqual(["read", "admin"])
      }))

    it.effect("list pages with limit and cursor", () =>
      Effect.gen(function*() {
        const { client, created } = yield* adminOf("Paging Co")
        const minted: Array<string> = []
        for (const name of ["one", "two", "three", "four"]) {
          yield* TestClock.adjust("1 second")
          minted.push((yield* client.apiTokens.create({ payload: { name } })).id)
        }
        // Two tokens in the same millisecond are ordered by id.
        minted.push((yield* client.apiTokens.create({ payload: { name: "five" } })).id)

        const seen: Array<string> = []
        let cursor: string | undefined = undefined
        let pages = 0
        do {
          const page: { data: ReadonlyArray<{ id: string }>; next_cursor: string | null } = yield* client.apiTokens
            .list({ urlParams: cursor === undefined ? { limit: 2 } : { limit: 2, cursor } })
          expect(page.data.length).toBeLessThanOrEqual(2)
          seen.push(...page.data.map((token) => token.id))
          cursor = page.next_cursor ?? undefined
          pages += 1
        } while (cursor !== undefined)

        // Five minted plus the initial admin token, newest first.
        expect(pages).toBe(3)
        expect(seen).toHaveLength(6)
        expect(new Set(seen).size).toBe(6)
        const me = yield* client.me.get()
        expect(seen.at(-1)).toBe(me.token.id)
        expect(seen.slice(0, 5).sort()).toEqual([...minted].sort())
        expect(seen.indexOf(minted[0]!)).toBe(4)
        expect(seen.indexOf(minted[3]!)).toBeLessThan(seen.indexOf(minted[2]!))

        const defaults = yield* sendRaw("GET", "/v1/api-tokens", { token: created.admin_token })
        expect(defaults.body.data).toHaveLength(6)
      }))

    it.effect("bad cursor or limit is 400", () =>
      Effect.gen(function*() {
        const { client, created } = yield* adminOf("Cursor Co")
        const error = yield* Effect.flip(client.apiTokens.list({ urlParams: { limit: 20, cursor: "garbage" } }))
        expect(error._tag).toBe("BadRequest")
        if (error._tag === "BadRequest") expect(error.field).toBe("cursor")

        const forged = Buffer.from(JSON.stringify(["2026-01-01T00:00:00.000Z", "not-a-uuid"])).toString("base64url")
        const forgedResponse = yield* sendRaw("GET", `/v1/api-tokens?cursor=${forged}`, { token: created.admin_token })
        expect(forgedResponse.status).toBe(400)
        expect(forgedResponse.body.field).toBe("cursor")

        for (const limit of ["0", "101", "ten"]) {
          const response = yield* sendRaw("GET", `/v1/api-tokens?limit=${limit}`, { token: created.admin_token })
          expect(response.status).toBe(400)
          expect(response.body.message).toContain("limit")
        }
      }))

    it.effect("last_used_at is written at most once a minute", () =>
      Effect.gen(function*() {
        const { client } = yield* adminOf("Usage Co")
        const minted = yield* client.apiTokens.create({ payload: { name: "Tracked" } })
        const sql = yield* SqlClient.SqlClient
        const lastUsedAt = Effect.map(
          sql<{ last_used_at: Date | null }>`SELECT last_used_at FROM api_tokens WHERE id = ${minted.id}`,
          (rows) => rows[0]?.last_used_at?.getTime() ?? null
        )
        expect(yield* lastUsedAt).toBeNull()

        const holder = yield* apiClient(minted.token)
        yield* holder.me.get()
        const first = yield* lastUsedAt
        expect(first).not.toBeNull()

        yield* TestClock.adjust("30 seconds")
        yield* holder.me.get()
        expect(yield* lastUsedAt).toBe(first)

        yield* TestClock.adjust("31 seconds")
        yield* holder.me.get()
        expect(yield* lastUsedAt).toBe(first! + 61_000)
      }))
  })
})
