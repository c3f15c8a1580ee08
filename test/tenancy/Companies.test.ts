import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { apiClient, TestServerLive, testOperatorToken } from "../support/TestServer.ts"
import { createCompany, sendRaw } from "./fixtures.ts"

describe("Companies", () => {
  it.layer(TestServerLive())((it) => {
    it.effect("creation returns a working admin token", () =>
      Effect.gen(function*() {
        const created = yield* createCompany("Acme Logistics")
        expect(created.company.name).toBe("Acme Logistics")
        expect(created.company.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
        expect(created.company.created_at).toBeInstanceOf(Date)
        expect(created.admin_token).toMatch(/^sl_token_[0-9A-Za-z]{40}$/)

        const tenant = yield* apiClient(created.admin_token)
        const me = yield* tenant.me.get()
        expect(me.company).toEqual({ id: created.company.id, name: "Acme Logistics" })
        expect(me.token.name).toBe("Initial admin token")
        expect(me.token.scopes).toEqual(["read", "write", "admin"])
      }))

    it.effect("two companies get distinct tokens", () =>
      Effect.gen(function*() {
        const first = yield* createCompany("First")
        const second = yield* createCompany("Second")
        expect(first.company.id).not.toBe(second.company.id)
        expect(first.admin_token).not.toBe(second.admin_token)
      }))

    it.effect("creation is 201 with ISO timestamps", () =>
      Effect.gen(function*() {
        const response = yield* sendRaw("POST", "/api/admin/companies", {
          token: testOperatorToken,
          body: { name: "  Padded Name  " }
        })
        expect(response.status).toBe(201)
        expect(response.body.company.name).toBe("Padded Name")
        expect(response.body.company.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
      }))

    it.effect("blank or long name is 400", () =>
      Effect.gen(function*() {
        for (const name of ["", "   ", "x".repeat(201)]) {
          const response = yield* sendRaw("POST", "/api/admin/companies", { token: testOperatorToken, body: { name } })
          expect(response.status).toBe(400)
          expect(response.body.message).toContain("name")
        }
        const missing = yield* sendRaw("POST", "/api/admin/companies", { token: testOperatorToken, body: {} })
        expect(missing.status).toBe(400)
        expect(missing.body.message).toContain("name")
      }))

    it.effect("name of 200 characters is accepted", () =>
      Effect.gen(function*() {
        const created = yield* createCompany("x".repeat(200))
        expect(created.company.name).toHaveLength(200)
      }))

    it.effect("missing operator token is 401", () =>
      Effect.gen(function*() {
        const anonymous = yield* apiClient()
        const error = yield* Effect.flip(anonymous.companies.create({ payload: { name: "Nobody" } }))
        expect(error._tag).toBe("Unauthorized")
        expect(error.message).toContain("Missing operator token")
      }))

    it.effect("wrong operator token is 401", () =>
      Effect.gen(function*() {
        const intruder = yield* apiClient(`${testOperatorToken}x`)
        const error = yield* Effect.flip(intruder.companies.create({ payload: { name: "Nobody" } }))
        expect(error._tag).toBe("Unauthorized")
        expect(error.message).toContain("Invalid operator token")
      }))

    it.effect("tenant admin token is not an operator token", () =>
      Effect.gen(function*() {
        const created = yield* createCompany("Tenant")
        const tenant = yield* apiClient(created.admin_token)
        const error = yield* Effect.flip(tenant.companies.create({ payload: { name: "Another" } }))
        expect(error._tag).toBe("Unauthorized")
      }))

    it.effect("rejected creation writes nothing", () =>
      Effect.gen(function*() {
        const response = yield* sendRaw("POST", "/api/admin/companies", { token: "wrong", body: { name: "Ghost Co" } })
        expect(response.status).toBe(401)
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ count: string }>`SELECT count(*) AS count FROM companies WHERE name = 'Ghost Co'`
        expect(rows[0]?.count).toBe("0")
      }))
  })
})
