import { Effect, Exit, Queue, type Scope } from "effect"

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
  readonly done: (exit: Exit.Exit<B, E>) => void
}

/** Submits single items to be handled in batches. */
export interface Batcher<A, B, E> {
  /** Handles `item` in the next batch and returns its result. */
  readonly submit: (item: A) => Effect.Effect<B, E>
  /**
   * Queues `item` for the next batch and calls `done` with its result, for
   * callers outside a fiber. `done` runs on the worker's fiber, so it must
   * return at once.
   */
  readonly unsafeSubmit: (item: A, done: (exit: Exit.Exit<B, E>) => void) => void
}

/**
 * Returns a `Batcher` that handles single items in batches, such as the rows
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
): Effect.Effect<Batcher<A, B, E>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Pending<A, B, E>>()

    /** Passes each item its result. A callback that throws is logged and does not stop the others. */
    const settle = (batch: ReadonlyArray<Pending<A, B, E>>, exitOf: (index: number) => Exit.Exit<B, E>) =>
      Effect.suspend(() => {
        const thrown: Array<unknown> = []
        batch.forEach((pending, index) => {
          try {
            pending.done(exitOf(index))
          } catch (error) {
            thrown.push(error)
          }
        })
        return Effect.forEach(thrown, (error) => Effect.logError("A batched item's result callback threw", error), {
          discard: true
        })
      })

    const runBatch = (batch: ReadonlyArray<Pending<A, B, E>>) =>
      Effect.flatMap(Effect.exit(options.run(batch.map((pending) => pending.item))), (exit) => {
        if (Exit.isSuccess(exit) && exit.value.length !== batch.length) {
          const wrongCount = Exit.die(new Error(`A batch of ${batch.length} items returned ${exit.value.length} results.`))
          return settle(batch, () => wrongCount)
        }
        if (Exit.isSuccess(exit)) return settle(batch, (index) => Exit.succeed(exit.value[index]!))
        const failed = Exit.failCause(exit.cause)
        return settle(batch, () => failed)
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

    const closed = Exit.die(new Error("The batcher is closed."))

    const unsafeSubmit = (item: A, done: (exit: Exit.Exit<B, E>) => void) => {
      if (!Queue.unsafeOffer(queue, { item, done })) done(closed)
    }

    return {
      submit: (item: A) => Effect.async<B, E>((resume) => unsafeSubmit(item, resume)),
      unsafeSubmit
    }
  })
