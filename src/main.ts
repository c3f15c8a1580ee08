import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import { AppConfig } from "./platform/AppConfig.ts"
import { installInterruptGuard } from "./platform/InterruptGuard.ts"
import { DatabaseMigrated } from "./platform/Database.ts"
import { LoggingLive } from "./platform/Logging.ts"
import { TracingLive } from "./platform/Tracing.ts"
import { NodeServerAfterApiLive, ServiceLive } from "./Server.ts"

installInterruptGuard()

ServiceLive.pipe(
  Layer.provide(NodeServerAfterApiLive),
  Layer.provide(DatabaseMigrated),
  Layer.provide(TracingLive),
  Layer.provide(LoggingLive),
  Layer.provide(AppConfig.layer),
  Layer.launch,
  NodeRuntime.runMain({ disablePrettyLogger: true })
)
