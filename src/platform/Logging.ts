import { Effect, Layer, Logger, LogLevel } from "effect"
import { AppConfig } from "./AppConfig.ts"

const levels: Record<string, LogLevel.LogLevel> = {
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  none: LogLevel.None
}

/** One JSON object per log line on stdout, at or above `LOG_LEVEL`. */
export const LoggingLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    Layer.merge(Logger.json, Logger.minimumLogLevel(levels[config.logLevel.toLowerCase()] ?? LogLevel.Info)))
)
