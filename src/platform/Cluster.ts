import { SingleRunner } from "@effect/cluster"

/**
 * The cluster the delivery engine runs on: a single runner whose shard
 * locks, runner registry and messages live in the service's PostgreSQL
 * (`cluster_*` tables created by the library). An entity runs only on the
 * runner that holds its shard's lock, so one process works a subscription.
 *
 * NOTE: tested with one process at a time, including a restart on the same
 * database. Several processes at once should use socket runners with
 * distinct addresses (`NodeClusterSocket.layer`). Even without them, claim
 * leases keep two processes from sending the same delivery at once.
 */
export const ClusterLive = SingleRunner.layer({
  runnerStorage: "sql",
  shardingConfig: {
    // Only persisted messages are polled from storage. The delivery engine's
    // messages are not persisted, so a slow poll costs nothing in latency.
    entityMessagePollInterval: "5 seconds",
    // Leaves room for an attempt in flight (at most the delivery timeout) to
    // finish and be recorded when a runner shuts down.
    entityTerminationTimeout: "30 seconds",
    // A runner that died still holds its shard locks until they expire, and
    // until then no runner works its subscriptions. The library's defaults
    // (refresh every 10 s, expire after 35 s) are shortened so that a
    // restarted or surviving runner takes over within about 10 seconds.
    shardLockRefreshInterval: "3 seconds",
    shardLockExpiration: "10 seconds"
  }
})
