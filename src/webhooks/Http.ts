import { HttpApiBuilder } from "@effect/platform"
import { Effect, Layer } from "effect"
import { SalesLabApi } from "../Api.ts"
import { CurrentTenant, requireScope } from "../tenancy/Security.ts"
import { DeliveryLog } from "./DeliveryLog.ts"
import { Subscriptions } from "./Subscriptions.ts"

/** Runs `handle` with the company id of the current tenant once its token is checked for the admin scope. */
const asAdmin = <A, E, R>(handle: (companyId: string) => Effect.Effect<A, E, R>) =>
  requireScope("admin").pipe(
    Effect.zipRight(CurrentTenant),
    Effect.flatMap((tenant) => handle(tenant.companyId))
  )

/** Handlers of the webhook subscription routes and their delivery log, with the services they call. */
export const WebhooksHttpLive = HttpApiBuilder.group(SalesLabApi, "webhooks", (handlers) =>
  Effect.gen(function*() {
    const subscriptions = yield* Subscriptions
    const deliveryLog = yield* DeliveryLog

    return handlers
      .handle("create", ({ payload }) => asAdmin((companyId) => subscriptions.create(companyId, payload)))
      .handle("list", ({ urlParams }) => asAdmin((companyId) => subscriptions.list(companyId, urlParams)))
      .handle("get", ({ path }) => asAdmin((companyId) => subscriptions.get(companyId, path.id)))
      .handle("update", ({ path, payload }) => asAdmin((companyId) => subscriptions.update(companyId, path.id, payload)))
      .handle("remove", ({ path }) => asAdmin((companyId) => subscriptions.remove(companyId, path.id)))
      .handle("sendTest", ({ path }) => asAdmin((companyId) => subscriptions.sendTest(companyId, path.id)))
      .handle("listDeliveries", ({ path, urlParams }) =>
        asAdmin((companyId) => deliveryLog.list(companyId, path.id, urlParams)))
      .handle("getDelivery", ({ path }) =>
        asAdmin((companyId) => deliveryLog.get(companyId, path.id, path.delivery_id)))
      .handle("retryDelivery", ({ path }) =>
        asAdmin((companyId) => deliveryLog.retry(companyId, path.id, path.delivery_id)))
  })).pipe(Layer.provide([Subscriptions.Default, DeliveryLog.Default]))
