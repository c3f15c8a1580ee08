import { HttpApi, OpenApi } from "@effect/platform"
import { BadRequest, InternalError, PayloadTooLarge } from "./ApiErrors.ts"
import { AssignmentsApi } from "./assignments/Api.ts"
import { CoachingBriefsApi } from "./coaching/BriefsApi.ts"
import { StreaksApi } from "./coaching/StreaksApi.ts"
import { StripeWebhookApi } from "./coverage/Api.ts"
import { CronApi } from "./cron/Api.ts"
import { EventKindsApi } from "./events/Api.ts"
import { BadgesApi } from "./gamification/Api.ts"
import { CallImportsApi } from "./integrations/Api.ts"
import { HealthApi } from "./platform/HealthApi.ts"
import { ElevenLabsWebhookApi, PracticeCallsApi, ScenariosApi, SessionsApi } from "./practice/Api.ts"
import { RealtimeApi } from "./realtime/Api.ts"
import { ChurnRetrosApi } from "./retros/Api.ts"
import { ApiTokensApi, CompaniesApi, MeApi, UsersApi } from "./tenancy/Api.ts"
import { TournamentsAdminApi, TournamentsApi } from "./tournaments/Api.ts"
import { WageIndexApi } from "./wageIndex/Api.ts"
import { WarehouseCredentialsApi } from "./warehouse/Api.ts"
import { WebhooksApi } from "./webhooks/Api.ts"

/**
 * The whole public HTTP contract of the service. The same value drives the
 * server, `/openapi.json`, `/docs` and the typed client used by the tests.
 */
export class SalesLabApi extends HttpApi.make("saleslab")
  .add(HealthApi)
  .add(CompaniesApi)
  .add(ApiTokensApi)
  .add(UsersApi)
  .add(MeApi)
  .add(CronApi)
  .add(ScenariosApi).add(PracticeCallsApi).add(SessionsApi).add(ElevenLabsWebhookApi)
  .add(WebhooksApi)
  .add(EventKindsApi)
  .add(CoachingBriefsApi)
  .add(TournamentsAdminApi)
  .add(TournamentsApi)
  .add(AssignmentsApi).add(BadgesApi).add(StreaksApi)
  .add(CallImportsApi)
  .add(RealtimeApi)
  .add(ChurnRetrosApi)
  .add(StripeWebhookApi)
  .add(WageIndexApi)
  .add(WarehouseCredentialsApi)
  .addError(InternalError)
  .addError(PayloadTooLarge)
  .addError(BadRequest)
  .annotateContext(OpenApi.annotations({
    title: "Sales Lab platform API",
    version: "1.0.0",
    description: "Tenant-scoped REST API, outbound webhook subscriptions and incoming emit points of Sales Lab."
  }))
{}
