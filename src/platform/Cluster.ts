import { SingleRunner } from "@effect/cluster"

/**
 * The cluster the delivery engine runs on: a single runner whose shard
 * locks, runner registry and messages live in the service's PostgreSQL
 * (`cluster_*` tables created by the library). An entity runs only on the
 * runner that holds its shard's lock, so one process works a subscription.
 *
 * When the lock storage fails, as while PostgreSQL restarts, @effect/cluster
 * 0.60 marks the shard locks unhealthy once a refresh fails or times out
 * (3 s here). The runner then drops every shard, which stops its entities
 * and singletons, probes the storage every 3 s, and takes the shards back
 * after the first probe that succeeds. In debug runs of the PostgreSQL
 * restart trial (`npm run trial:pg-restart`), the runner either kept its
 * shards or took them back, with the sweeper singleton, 0.9 to 2.4 seconds
 * after the server accepted connections again. The library rebuilds its
 * lock connection only after an operation on it fails, and a rebuild during
 * the outage fails too. So the first refresh after the restart often waits
 * out its timeout, and the shards are dropped when the server is already
 * back.
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
