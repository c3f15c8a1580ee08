import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { apiClient, TestServerLive, testOperatorToken } from "../support/TestServer.ts"
import { sendRaw } from "./fixtures.ts"

describe("Operator routes without OPERATOR_TOKEN", () => {
  it.layer(TestServerLive({ operatorToken: Option.none() }))((it) => {
    it.effect("every operator request is 401", () =>
      Effect.gen(function*() {
        const operator = yield* apiClient(testOperatorToken)
        const error = yield* Effect.flip(operator.companies.create({ payload: { name: "Acme" } }))
        expect(error._tag).toBe("Unauthorized")
        expect(error.message).toContain("OPERATOR_TOKEN is not set")

        const anonymous = yield* sendRaw("POST", "/api/admin/companies", { body: { name: "Acme" } })
        expect(anonymous.status).toBe(401)
        expect(anonymous.body._tag).toBe("Unauthorized")
        expect(anonymous.body.message).toContain("OPERATOR_TOKEN is not set")
      }))

    it.effect("an empty bearer is not a match", () =>
      Effect.gen(function*() {
        const response = yield* sendRaw("POST", "/api/admin/companies", { token: "", body: { name: "Acme" } })
        expect(response.status).toBe(401)
      }))
  })
})
