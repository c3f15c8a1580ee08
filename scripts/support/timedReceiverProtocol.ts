/** Messages between `startTimedReceiver` and its child process (`timedReceiverProcess.ts`). */

/** Counts kept by the receiver process since it started, except `peakConnections`. */
export interface ReceiverCounters {
  /** Requests to the healthy endpoint, valid or not. */
  readonly requests: number
  readonly valid: number
  /** Requests whose signature did not match the secret of their subscription, or whose subscription was unknown. */
  readonly invalid: number
  /** Valid requests whose JSON body had no integer `sequence`. */
  readonly withoutSequence: number
  /** Connections to the healthy endpoint open now. */
  readonly openConnections: number
  /** Maximum connections to the healthy endpoint open at once since the start or the last reset. */
  readonly peakConnections: number
  readonly totalConnections: number
  /** Requests the stalling endpoint has received. */
  readonly stalledRequests: number
  /** Requests the stalling endpoint has open now, without a response. */
  readonly openStalled: number
}

export type ReceiverRequest =
  | { readonly type: "secrets"; readonly id: number; readonly entries: ReadonlyArray<readonly [string, string]> }
  | { readonly type: "counters"; readonly id: number }
  | { readonly type: "reset-peak"; readonly id: number }
  | { readonly type: "clock"; readonly id: number }
  | { readonly type: "release-stalled"; readonly id: number }
  | { readonly type: "close"; readonly id: number }

export type ReceiverReply =
  | { readonly type: "ready"; readonly url: string; readonly stallUrl: string }
  /** Arrivals as flat pairs: sequence, then epoch milliseconds. */
  | { readonly type: "arrivals"; readonly pairs: ReadonlyArray<number> }
  | { readonly type: "done"; readonly id: number }
  | { readonly type: "counters"; readonly id: number; readonly counters: ReceiverCounters }
  | { readonly type: "clock"; readonly id: number; readonly at: number }
