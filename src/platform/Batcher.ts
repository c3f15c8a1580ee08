import { Deferred, Effect, Exit, FiberId, Queue, type Scope } from "effect"

/** Options of `makeBatcher`. */
export interface BatcherOptions<A, B, E> {
  /** Items passed to one call of `run`, at most. */
  readonly maxBatchSize: number
  /** Calls of `run` that may be in progress at once. */
  readonly concurrency: number
  /**
   * Handles one batch and returns one result per item, in the order of
   * `items`. A failure fails every item of the batch.
   */
  readonly run: (items: ReadonlyArray<A>) => Effect.Effect<ReadonlyArray<B>, E>
}

interface Pending<A, B, E> {
  readonly item: A
  readonly result: Deferred.Deferred<B, E>
}

/**
 * Returns a function that handles single items in batches, such as the rows
 * of one SQL statement. A batch starts as soon as a worker is free, with
 * every item queued by then, so an item that arrives while the workers are
 * idle waits for no timer. Under load, items queue up while the workers are
 * busy and the next batches grow, which is how group commit cuts the
 * statements per item.
 *
 * Items are handled even when their caller is interrupted, so an item once
 * submitted is never dropped halfway. When the scope closes, the workers
 * finish the queued items before they stop, and items submitted after that
 * fail with a defect.
 */
export const makeBatcher = <A, B, E>(
  options: BatcherOptions<A, B, E>
): Effect.Effect<(item: A) => Effect.Effect<B, E>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Pending<A, B, E>>()

    const runBatch = (batch: ReadonlyArray<Pending<A, B, E>>) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(options.run(batch.map((pending) => pending.item)))
        if (Exit.isSuccess(exit) && exit.value.length !== batch.length) {
          const error = new Error(`A batch of ${batch.length} items returned ${exit.value.length} results.`)
          yield* Effect.forEach(batch, (pending) => Deferred.die(pending.result, error), { discard: true })
          return
        }
        yield* Effect.forEach(
          batch,
          (pending, index) =>
            Exit.isSuccess(exit)
              ? Deferred.succeed(pending.result, exit.value[index]!)
              : Deferred.failCause(pending.result, exit.cause),
          { discard: true }
        )
      })

    // Only the wait for items can be interrupted: items once taken are
    // handled to the end, also when the scope closes.
    const worker = Effect.forever(
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(
          restore(Queue.takeBetween(queue, 1, options.maxBatchSize)),
          (items) => runBatch(Array.from(items))
        )
      )
    )

    // Registered before the workers are forked, so this finalizer runs after
    // they are interrupted: it handles what they left in the queue.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        for (;;) {
          const items = yield* Queue.takeUpTo(queue, options.maxBatchSize)
          if (items.length === 0) break
          yield* runBatch(Array.from(items))
        }
        yield* Queue.shutdown(queue)
      })
    )
    for (let i = 0; i < options.concurrency; i++) yield* Effect.forkScoped(worker)

    // Built with the unsafe constructors in one step, because every
    // delivery's claim and record pass through here.
    return (item: A) =>
      Effect.suspend(() => {
        const result = Deferred.unsafeMake<B, E>(FiberId.none)
        return Queue.unsafeOffer(queue, { item, result }) ? Deferred.await(result) : Effect.dieMessage("The batcher is closed.")
      })
  })
