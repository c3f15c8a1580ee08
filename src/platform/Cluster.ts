import { RunnerAddress, SingleRunner } from "@effect/cluster"
import type { ShardingConfig } from "@effect/cluster"
import { NodeClusterSocket } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { Effect, Exit, Layer, Option, Scope } from "effect"
import { AppConfig, type ClusterSettings } from "./AppConfig.ts"

/** Sharding settings of both cluster modes. */
const commonShardingConfig = {
  // Only persisted messages are polled from storage. The delivery engine's
  // messages are not persisted, so a slow poll costs nothing in latency.
  entityMessagePollInterval: "5 seconds",
  // Leaves room for an attempt in flight (at most the delivery timeout) to
  // finish and be recorded when a runner shuts down.
  entityTerminationTimeout: "30 seconds",
  // A runner that stops refreshing is dropped from the runner list once its
  // heartbeat is older than the expiry, and its shards are then reassigned.
  // The library's defaults (refresh every 10 s, expire after 35 s) are
  // shortened so that a restarted or surviving runner takes over within
  // about 10 seconds. On PostgreSQL the locks themselves are session
  // advisory locks, which the server frees as soon as the holder's
  // connection closes.
  shardLockRefreshInterval: "3 seconds",
  shardLockExpiration: "10 seconds",
  // The library encodes and decodes messages to local entities too by
  // default, to catch messages that could not cross to another runner. The
  // engine's only message, `Wake`, carries one string, so that is pure cost.
  simulateRemoteSerialization: false
} satisfies Partial<ShardingConfig.ShardingConfig["Type"]>

/**
 * Socket mode only. The runner that hosts the library's health check
 * singleton pings every runner this often, and marks a runner unhealthy
 * after six failed pings 500 ms apart, each of which may wait 10 s for a
 * reply. The shards of an unhealthy runner are reassigned. A killed process
 * refuses the connection at once, so it is found within about 5 seconds.
 * The library default is 1 minute.
 */
const runnerHealthCheckInterval = "2 seconds"

/**
 * Socket mode only. Each runner reads the runner list this often and
 * recomputes the shard assignments when it changed. The library default is
 * 3 seconds.
 */
const refreshAssignmentsInterval = "1 second"

/**
 * The cluster the delivery engine runs on, chosen by `AppConfig.cluster.mode`.
 * Shard locks, the runner registry and messages live in the service's
 * PostgreSQL (`cluster_*` tables created by the library), and an entity runs
 * only on the runner that holds its shard's lock.
 *
 * - `single`: `SingleRunner`, one runner per process that sends no message
 *   to other runners.
 * - `socket`: `NodeClusterSocket`, several runners on one database that
 *   forward messages to each other over TCP and ping each other. A runner
 *   that dies loses its shards to the survivors. The runner socket uses
 *   `node:net`, which Deno 2 also provides.
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
 * Both modes register the runner under `AppConfig.cluster.runnerAddress`,
 * so a restart takes the place of the previous process instead of leaving
 * a second runner behind until its heartbeat expires. Two processes must
 * never share a runner address.
 */
export const ClusterLive = Layer.unwrapEffect(
  Effect.map(AppConfig, ({ cluster }) =>
    startedOneAtATime(cluster.mode === "socket" ? socketCluster(cluster) : singleCluster(cluster)))
)

/** Key of the session advisory lock under which a runner builds its cluster layer. */
const clusterStartLockKey = 7_421_002

/**
 * Builds `cluster` while this process holds a session advisory lock, so that
 * runners starting together on a fresh database create the library's
 * `cluster_*` tables one after the other. The library creates some of them
 * with `CREATE TABLE IF NOT EXISTS`, and two sessions running that at once
 * fail on a duplicate key in PostgreSQL's catalog. The lock is released as
 * soon as the layer is built.
 */
const startedOneAtATime = <A, E, R>(cluster: Layer.Layer<A, E, R>) =>
  Layer.scopedContext(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const lockScope = yield* Scope.make()
    const connection = yield* Effect.orDie(Scope.extend(sql.reserve, lockScope))
    yield* Effect.orDie(connection.executeRaw("SELECT pg_advisory_lock($1)", [clusterStartLockKey]))
    const unlock = connection.executeRaw("SELECT pg_advisory_unlock($1)", [clusterStartLockKey]).pipe(
      Effect.ignore,
      Effect.zipRight(Scope.close(lockScope, Exit.void))
    )
    return yield* Layer.build(cluster).pipe(Effect.ensuring(unlock))
  }))

const singleCluster = (cluster: ClusterSettings) =>
  SingleRunner.layer({
    runnerStorage: "sql",
    shardingConfig: { ...commonShardingConfig, runnerAddress: runnerAddressOf(cluster.runnerAddress) }
  })

const socketCluster = (cluster: ClusterSettings) =>
  NodeClusterSocket.layer({
    storage: "sql",
    shardingConfig: {
      ...commonShardingConfig,
      runnerAddress: runnerAddressOf(cluster.runnerAddress),
      runnerListenAddress: runnerAddressOf(cluster.listenAddress),
      runnerHealthCheckInterval,
      refreshAssignmentsInterval
    }
  })

const runnerAddressOf = (endpoint: { readonly host: string; readonly port: number }) =>
  Option.some(RunnerAddress.make(endpoint.host, endpoint.port))
