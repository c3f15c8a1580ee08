import { Clock, Context, DefaultServices, Layer } from "effect"
import { ClusterLive } from "../platform/Cluster.ts"
import { Delivery } from "./Delivery.ts"
import { DeliveryPartitionLive, RunningDrains } from "./DeliveryPartition.ts"
import { DeliveryClock } from "./DeliveryClock.ts"
import { DeliveryStore } from "./DeliveryStore.ts"
import { DeliveryChannel } from "./DeliveryChannel.ts"
import { DispatcherLive } from "./Dispatcher.ts"
import { Sweeper, SweeperLive } from "./Sweeper.ts"
import { WebhookSender } from "./WebhookSender.ts"

/**
 * The delivery engine with a given clock and sender: the cluster runner, the
 * `DeliveryPartition` entities, the dispatcher, the sweeper singleton, the
 * runner's queue gauges, the `Sweeper` service for on-demand sweeps, and the
 * cluster's `Sharding` for other singletons and crons. Needs `AppConfig` and
 * a migrated `PgClient` (which is also the `SqlClient`).
 */
export const makeDeliveryEngine = <CR, E, R>(options: {
  readonly clock: Layer.Layer<DeliveryClock, never, CR>
  readonly sender: Layer.Layer<WebhookSender, E, R>
}) => {
  const services = Delivery.Default.pipe(Layer.provideMerge(options.sender))
  const background = Layer.mergeAll(
    DeliveryPartitionLive.pipe(Layer.provide(services)),
    DispatcherLive.pipe(Layer.provide([Sweeper.Default, DeliveryChannel.Default])),
    SweeperLive.pipe(Layer.provide(Sweeper.Default))
  )
  return Layer.merge(background, Sweeper.Default).pipe(
    // One map of running drains for the partitions and the wakers of the dispatcher and the sweeper.
    Layer.provide(RunningDrains.layer),
    Layer.provideMerge(ClusterLive),
    // The store is built before the cluster and closed after it, so attempts
    // that finish while the cluster stops its entities are still recorded.
    Layer.provide(Layer.provideMerge(DeliveryStore.Default, options.clock)),
    // The cluster's timers, the sweeper and the dispatcher always run on the
    // real clock, even when the layer is built in a test under `TestClock`.
    Layer.locallyWith(DefaultServices.currentServices, Context.add(Clock.Clock, Clock.make()))
  )
}

/** The delivery engine of the service: real time and the HTTP sender. */
export const DeliveryEngineLive = makeDeliveryEngine({ clock: DeliveryClock.layer, sender: WebhookSender.layer })
