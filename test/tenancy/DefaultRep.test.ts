import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { apiClient, TestServerLive } from "../support/TestServer.ts"
import { createCompany, sendRaw } from "./fixtures.ts"

/** A fresh company with its admin token, typed client and one rep. */
const companyWithRep = (name: string) =>
  Effect.gen(function*() {
    const created = yield* createCompany(name)
    const client = yield* apiClient(created.admin_token)
    const email = `rep@${name.replace(/\W/g, "").toLowerCase()}.example.com`
    const rep = yield* client.users.create({ payload: { email, name: "Riley" } })
    return { adminToken: created.admin_token, client, rep }
  })

/** Keys of a token in `GET /v1/api-tokens`, which the PATCH response repeats. */
const listedKeys = ["created_at", "default_user_id", "id", "last_used_at", "name", "revoked_at", "scopes", "token_prefix"]

/** The token with `tokenId` from the company's token list, as raw JSON. */
const listedToken = (adminToken: string, tokenId: string) =>
  Effect.map(
    sendRaw("GET", "/v1/api-tokens?limit=100", { token: adminToken }),
    (response) => response.body.data.find((token: { id: string }) => token.id === tokenId)
  )

describe("API token default rep", () => {
  it.layer(TestServerLive())((it) => {
    it.effect("mint with default rep", () =>
      Effect.gen(function*() {
        const { adminToken, rep } = yield* companyWithRep("Mint Rep Co")

        const minted = yield* sendRaw("POST", "/v1/api-tokens", {
          token: adminToken,
          body: { name: "Dialer", default_user_id: rep.id }
        })
        expect(minted.status).toBe(201)
        expect(minted.body.default_user_id).toBe(rep.id)

        const listed = yield* listedToken(adminToken, minted.body.id)
        expect(listed.default_user_id).toBe(rep.id)

        const me = yield* sendRaw("GET", "/v1/me", { token: minted.body.token })
        expect(me.status).toBe(200)
        expect(me.body.token.default_user_id).toBe(rep.id)
      }))

    it.effect("mint without default rep", () =>
      Effect.gen(function*() {
        const { adminToken } = yield* companyWithRep("No Rep Co")

        const minted = yield* sendRaw("POST", "/v1/api-tokens", { token: adminToken, body: { name: "Plain" } })
        expect(minted.status).toBe(201)
        expect(minted.body.default_user_id).toBeNull()

        const me = yield* sendRaw("GET", "/v1/me", { token: minted.body.token })
        expect(me.body.token.default_user_id).toBeNull()
      }))

    it.effect("mint with foreign or unknown user is 404", () =>
      Effect.gen(function*() {
        const own = yield* companyWithRep("Own Co")
        const other = yield* companyWithRep("Other Co")
        const tokensBefore = (yield* own.client.apiTokens.list({ urlParams: { limit: 100 } })).data.length

        for (const userId of [other.rep.id, randomUUID()]) {
          const response = yield* sendRaw("POST", "/v1/api-tokens", {
            token: own.adminToken,
            body: { name: "Dialer", default_user_id: userId }
          })
          expect(response.status, userId).toBe(404)
          expect(response.body._tag).toBe("NotFound")
          expect(response.body.message).toContain(userId)
          expect(response.body.message).toContain("default_user_id")
        }

        const tokensAfter = (yield* own.client.apiTokens.list({ urlParams: { limit: 100 } })).data.length
        expect(tokensAfter).toBe(tokensBefore)
      }))

    it.effect("mint with malformed user id is 400", () =>
      Effect.gen(function*() {
        const { adminToken } = yield* companyWithRep("Malformed Co")
        const response = yield* sendRaw("POST", "/v1/api-tokens", {
          token: adminToken,
          body: { name: "Dialer", default_user_id: "rep-1" }
        })
        expect(response.status).toBe(400)
        expect(JSON.stringify(response.body)).toContain("default_user_id")
      }))

    it.effect("patch sets and clears default rep", () =>
      Effect.gen(function*() {
        const { adminToken, client, rep } = yield* companyWithRep("Patch Co")
        const minted = yield* client.apiTokens.create({ payload: { name: "Dialer" } })

        const set = yield* sendRaw("PATCH", `/v1/api-tokens/${minted.id}`, {
          token: adminToken,
          body: { default_user_id: rep.id }
        })
        expect(set.status).toBe(200)
        expect(Object.keys(set.body).sort()).toEqual(listedKeys)
        expect(set.body.id).toBe(minted.id)
        expect(set.body.default_user_id).toBe(rep.id)
        expect(JSON.stringify(set.body)).not.toContain(minted.token)
        expect(set.body).toEqual(yield* listedToken(adminToken, minted.id))

        const meAfterSet = yield* sendRaw("GET", "/v1/me", { token: minted.token })
        expect(meAfterSet.body.token.default_user_id).toBe(rep.id)

        const cleared = yield* sendRaw("PATCH", `/v1/api-tokens/${minted.id}`, {
          token: adminToken,
          body: { default_user_id: null }
        })
        expect(cleared.status).toBe(200)
        expect(cleared.body.default_user_id).toBeNull()
        expect((yield* listedToken(adminToken, minted.id)).default_user_id).toBeNull()

        const meAfterClear = yield* sendRaw("GET", "/v1/me", { token: minted.token })
        expect(meAfterClear.body.token.default_user_id).toBeNull()
      }))

    it.effect("patch of own token applies at once", () =>
      Effect.gen(function*() {
        const { client, rep } = yield* companyWithRep("Self Patch Co")
        const me = yield* client.me.get()

        const updated = yield* client.apiTokens.update({ path: { id: me.token.id }, payload: { default_user_id: rep.id } })
        expect(updated.default_user_id).toBe(rep.id)
        expect((yield* client.me.get()).token.default_user_id).toBe(rep.id)
      }))

    it.effect("patch on another tenant's token is 404", () =>
      Effect.gen(function*() {
        const owner = yield* companyWithRep("Victim Co")
        const intruder = yield* companyWithRep("Intruder Co")
        const victim = yield* owner.client.apiTokens.create({ payload: { name: "Victim" } })

        for (const userId of [intruder.rep.id, owner.rep.id]) {
          const response = yield* sendRaw("PATCH", `/v1/api-tokens/${victim.id}`, {
            token: intruder.adminToken,
            body: { default_user_id: userId }
          })
          expect(response.status, userId).toBe(404)
          expect(response.body._tag).toBe("NotFound")
          expect(response.body.message).toContain(victim.id)
        }

        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ default_user_id: string | null }>`
          SELECT default_user_id FROM api_tokens WHERE id = ${victim.id}`
        expect(rows).toEqual([{ default_user_id: null }])
      }))

    it.effect("patch with foreign user is 404", () =>
      Effect.gen(function*() {
        const own = yield* companyWithRep("Keep Co")
        const other = yield* companyWithRep("Foreign Rep Co")
        const minted = yield* own.client.apiTokens.create({ payload: { name: "Dialer" } })
        yield* own.client.apiTokens.update({ path: { id: minted.id }, payload: { default_user_id: own.rep.id } })

        for (const userId of [other.rep.id, randomUUID()]) {
          const response = yield* sendRaw("PATCH", `/v1/api-tokens/${minted.id}`, {
            token: own.adminToken,
            body: { default_user_id: userId }
          })
          expect(response.status, userId).toBe(404)
          expect(response.body.message).toContain(userId)
        }

        expect((yield* listedToken(own.adminToken, minted.id)).default_user_id).toBe(own.rep.id)
      }))

    it.effect("patch on unknown token is 404", () =>
      Effect.gen(function*() {
        const { adminToken, rep } = yield* companyWithRep("Unknown Token Co")
        const tokenId = randomUUID()
        const response = yield* sendRaw("PATCH", `/v1/api-tokens/${tokenId}`, {
          token: adminToken,
          body: { default_user_id: rep.id }
        })
        expect(response.status).toBe(404)
        expect(response.body.message).toContain(tokenId)
      }))

    it.effect("patch on revoked token is 409", () =>
      Effect.gen(function*() {
        const { adminToken, client, rep } = yield* companyWithRep("Revoked Co")
        const minted = yield* client.apiTokens.create({ payload: { name: "Retired" } })
        yield* client.apiTokens.revoke({ path: { id: minted.id } })

        for (const defaultUserId of [rep.id, null]) {
          const response = yield* sendRaw("PATCH", `/v1/api-tokens/${minted.id}`, {
            token: adminToken,
            body: { default_user_id: defaultUserId }
          })
          expect(response.status, String(defaultUserId)).toBe(409)
          expect(response.body._tag).toBe("Conflict")
          expect(response.body.message).toContain("revoked")
        }
        expect((yield* listedToken(adminToken, minted.id)).default_user_id).toBeNull()
      }))

    it.effect("patch needs admin scope", () =>
      Effect.gen(function*() {
        const { client, rep } = yield* companyWithRep("Writer Co")
        const writer = yield* client.apiTokens.create({ payload: { name: "Writer", scopes: ["read", "write"] } })

        const response = yield* sendRaw("PATCH", `/v1/api-tokens/${writer.id}`, {
          token: writer.token,
          body: { default_user_id: rep.id }
        })
        expect(response.status).toBe(403)
        expect(response.body._tag).toBe("Forbidden")
      }))

    it.effect("patch with invalid body is 400", () =>
      Effect.gen(function*() {
        const { adminToken, client } = yield* companyWithRep("Invalid Patch Co")
        const minted = yield* client.apiTokens.create({ payload: { name: "Dialer" } })

        for (const body of [{}, { default_user_id: "rep-1" }, { default_user_id: 42 }]) {
          const response = yield* sendRaw("PATCH", `/v1/api-tokens/${minted.id}`, { token: adminToken, body })
          expect(response.status, JSON.stringify(body)).toBe(400)
          expect(JSON.stringify(response.body), JSON.stringify(body)).toContain("default_user_id")
        }

        const malformedId = yield* sendRaw("PATCH", "/v1/api-tokens/not-a-uuid", {
          token: adminToken,
          body: { default_user_id: null }
        })
        expect(malformedId.status).toBe(400)
      }))

    it.effect("database rejects a foreign default rep", () =>
      Effect.gen(function*() {
        const own = yield* companyWithRep("Constraint Co")
        const other = yield* companyWithRep("Constraint Other Co")
        const minted = yield* own.client.apiTokens.create({ payload: { name: "Dialer" } })

        const sql = yield* SqlClient.SqlClient
        const error = yield* Effect.flip(
          sql`UPDATE api_tokens SET default_user_id = ${other.rep.id} WHERE id = ${minted.id}`
        )
        expect(String(error.cause)).toContain("api_tokens_default_user_fkey")
      }))
  })
})
