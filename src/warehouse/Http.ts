import { HttpApiBuilder } from "@effect/platform"
import { Effect, Layer } from "effect"
import { SalesLabApi } from "../Api.ts"
import type { CompanyId } from "../tenancy/Api.ts"
import { companyWithScope } from "../tenancy/Security.ts"
import { StatementReaperLive } from "./StatementReaper.ts"
import { WarehouseCredentials } from "./WarehouseCredentials.ts"

const adminCompany = companyWithScope("admin").pipe(Effect.map((companyId) => companyId as CompanyId))

/**
 * Handlers of `/v1/warehouse/credentials`, with the service behind them,
 * and the check that cancels warehouse statements past their timeout.
 * Every route needs the admin scope. Needs `AppConfig`, `SqlClient` and the
 * `Authentication` middleware.
 */
export const WarehouseHttpLive = HttpApiBuilder.group(SalesLabApi, "warehouseCredentials", (handlers) =>
  Effect.gen(function*() {
    const credentials = yield* WarehouseCredentials
    return handlers
      .handle("create", ({ payload }) =>
        adminCompany.pipe(Effect.flatMap((companyId) => credentials.create(companyId, payload))))
      .handle("list", ({ urlParams }) =>
        adminCompany.pipe(Effect.flatMap((companyId) => credentials.list(companyId, urlParams))))
      .handle("revoke", ({ path }) =>
        adminCompany.pipe(Effect.flatMap((companyId) => credentials.revoke(companyId, path.id))))
  })).pipe(Layer.provide(WarehouseCredentials.Default), Layer.merge(StatementReaperLive))
