import { SingleRunner } from "@effect/cluster"

/**
 * The cluster the delivery engine runs on: a single runner whose shard
 * locks, runner registry and messages live in the service's PostgreSQL
 * (`cluster_*` tables created by the library). Every process of the service
 * is one such runner; entities never run on two runners at once because
 * shards are locked in the database.
 */
export const ClusterLive = SingleRunner.layer({
  runnerStorage: "sql",
  shardingConfig: {
    // Only persisted messages are polled from storage. The delivery engine's
    // messages are not persisted, so a slow poll costs nothing in latency.
    entityMessagePollInterval: "5 seconds",
    // Leaves room for an attempt in flight (at most the delivery timeout) to
    // finish and be recorded when a runner shuts down.
    entityTerminationTimeout: "30 seconds"
  }
})
