import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { apiClient, TestServerLive } from "../support/TestServer.ts"
import { createCompany, sendRaw } from "./fixtures.ts"

/** A company's admin client and token, as a fresh tenant for one test. */
const adminOf = (name: string) =>
  Effect.flatMap(createCompany(name), (created) =>
    Effect.map(apiClient(created.admin_token), (client) => ({ client, token: created.admin_token })))

describe("Users", () => {
  it.layer(TestServerLive())((it) => {
    it.effect("create and list users", () =>
      Effect.gen(function*() {
        const { client } = yield* adminOf("Users Co")
        const rep = yield* client.users.create({ payload: { email: "dana.rep@example.com", name: "Dana" } })
        expect(rep.email).toBe("dana.rep@example.com")
        expect(rep.name).toBe("Dana")
        expect(rep.role).toBe("rep")
        expect(rep.created_at).toBeInstanceOf(Date)

        yield* TestClock.adjust("1 second")
        const manager = yield* client.users.create({
          payload: { email: "lee@example.com", name: "Lee", role: "manager" }
        })
        expect(manager.role).toBe("manager")

        const page = yield* client.users.list({ urlParams: { limit: 20 } })
        expect(page.data.map((user) => user.id)).toEqual([manager.id, rep.id])
        expect(page.data[1]).toEqual(rep)
        expect(page.next_cursor).toBeNull()
      }))

    it.effect("created user has contract fields", () =>
      Effect.gen(function*() {
        const { token } = yield* adminOf("Shape Co")
        const response = yield* sendRaw("POST", "/v1/users", {
          token,
          body: { email: "sam@example.com", name: "Sam", role: "admin" }
        })
        expect(response.status).toBe(201)
        expect(Object.keys(response.body).sort()).toEqual(["created_at", "email", "id", "name", "role"])
        expect(response.body.role).toBe("admin")
        expect(response.body.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
      }))

    it.effect("email is trimmed and lower-cased", () =>
      Effect.gen(function*() {
        const { token } = yield* adminOf("Case Co")
        const response = yield* sendRaw("POST", "/v1/users", {
          token,
          body: { email: "  Dana.Rep@Example.COM ", name: "  Dana  " }
        })
        expect(response.status).toBe(201)
        expect(response.body.email).toBe("dana.rep@example.com")
        expect(response.body.name).toBe("Dana")
        expect(response.body.role).toBe("rep")
      }))

    it.effect("duplicate email is 409", () =>
      Effect.gen(function*() {
        const { client, token } = yield* adminOf("Duplicate Co")
        yield* client.users.create({ payload: { email: "kim@example.com", name: "Kim" } })
        const error = yield* Effect.flip(client.users.create({ payload: { email: "kim@example.com", name: "Kim Again" } }))
        expect(error._tag).toBe("Conflict")
        expect(error.message).toContain("kim@example.com")

        const otherSpelling = yield* sendRaw("POST", "/v1/users", { token, body: { email: " KIM@Example.com", name: "Kim" } })
        expect(otherSpelling.status).toBe(409)
        expect(otherSpelling.body._tag).toBe("Conflict")

        const page = yield* client.users.list({ urlParams: { limit: 20 } })
        expect(page.data).toHaveLength(1)
      }))

    it.effect("same email in two companies", () =>
      Effect.gen(function*() {
        const first = yield* adminOf("First Co")
        const second = yield* adminOf("Second Co")
        yield* first.client.users.create({ payload: { email: "alex@example.com", name: "Alex" } })
        const other = yield* second.client.users.create({ payload: { email: "alex@example.com", name: "Alex" } })
        expect(other.email).toBe("alex@example.com")

        const secondPage = yield* second.client.users.list({ urlParams: { limit: 20 } })
        expect(secondPage.data.map((user) => user.id)).toEqual([other.id])
      }))

    it.effect("bad email is 400 naming the field", () =>
      Effect.gen(function*() {
        const { token } = yield* adminOf("Email Co")
        for (const email of ["not-an-email", "a@b", "two words@example.com", ""]) {
          const response = yield* sendRaw("POST", "/v1/users", { token, body: { email, name: "Pat" } })
          expect(response.status).toBe(400)
          expect(response.body.message).toContain("email")
        }
        const badRole = yield* sendRaw("POST", "/v1/users", {
          token,
          body: { email: "pat@example.com", name: "Pat", role: "owner" }
        })
        expect(badRole.status).toBe(400)
        expect(badRole.body.message).toContain("role")

        const missingName = yield* sendRaw("POST", "/v1/users", { token, body: { email: "pat@example.com" } })
        expect(missingName.status).toBe(400)
        expect(missingName.body.message).toContain("name")
      }))

    it.effect("read-only token lists but cannot create", () =>
      Effect.gen(function*() {
        const { client } = yield* adminOf("Reader Co")
        yield* client.users.create({ payload: { email: "rep@example.com", name: "Rep" } })
        const reader = yield* client.apiTokens.create({ payload: { name: "Reader", scopes: ["read"] } })
        const readerClient = yield* apiClient(reader.token)

        const error = yield* Effect.flip(readerClient.users.create({ payload: { email: "new@example.com", name: "New" } }))
        expect(error._tag).toBe("Forbidden")
        const page = yield* readerClient.users.list({ urlParams: { limit: 20 } })
        expect(page.data.map((user) => user.email)).toEqual(["rep@example.com"])
      }))

    it.effect("write-only token cannot list", () =>
      Effect.gen(function*() {
        const { client } = yield* adminOf("Writer Co")
        const writer = yield* client.apiTokens.create({ payload: { name: "Writer", scopes: ["write"] } })
        const writerClient = yield* apiClient(writer.token)
        const error = yield* Effect.flip(writerClient.users.list({ urlParams: { limit: 20 } }))
        expect(error._tag).toBe("Forbidden")
        expect(error.message).toContain("read")
      }))

    it.effect("list pages with limit and cursor", () =>
      Effect.gen(function*() {
        const { client, token } = yield* adminOf("Paging Users Co")
        const emails = ["a@example.com", "b@example.com", "c@example.com"]
        for (const email of emails) {
          yield* TestClock.adjust("1 second")
          yield* client.users.create({ payload: { email, name: email } })
        }

        const first = yield* client.users.list({ urlParams: { limit: 2 } })
        expect(first.data.map((user) => user.email)).toEqual(["c@example.com", "b@example.com"])
        expect(first.next_cursor).not.toBeNull()

        const second = yield* client.users.list({ urlParams: { limit: 2, cursor: first.next_cursor! } })
        expect(second.data.map((user) => user.email)).toEqual(["a@example.com"])
        expect(second.next_cursor).toBeNull()

        const bad = yield* sendRaw("GET", "/v1/users?cursor=%7Bnot-a-cursor", { token })
        expect(bad.status).toBe(400)
        expect(bad.body._tag).toBe("BadRequest")
        expect(bad.body.field).toBe("cursor")
      }))
  })
})
