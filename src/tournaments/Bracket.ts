/**
 * Single-elimination bracket layout. Seeds are numbered from 1, the top
 * seed. A round's matches are numbered by position from 0, and the winners
 * of positions 2k and 2k + 1 meet at position k of the next round.
 */

/** One first-round match by seed. `seedB` is undefined for a bye. */
export interface SeedPairing {
  readonly position: number
  readonly seedA: number
  readonly seedB: number | undefined
}

/** A match of a later round, by the team ids of the two winners that meet. */
export interface WinnerPairing {
  readonly position: number
  readonly teamAId: string
  readonly teamBId: string
}

/** Computes the number of first-round slots, the smallest power of two that is at least `teams`. */
export const bracketSize = (teams: number): number => {
  let size = 1
  while (size < teams) size *= 2
  return size
}

/**
 * Lists the seeds 1 to `size` (a power of two) in bracket order, so that
 * neighbours meet in round 1. The top seed meets the lowest, and seeds 1 and
 * 2 can meet only in the final. For 8 slots the order is 1, 8, 4, 5, 2, 7, 3, 6.
 */
export const seedOrder = (size: number): ReadonlyArray<number> => {
  let order = [1]
  while (order.length < size) {
    const sum = 2 * order.length + 1
    order = order.flatMap((seed) => [seed, sum - seed])
  }
  return order
}

/**
 * Pairs `teams` seeds for round 1. Slots above the team count are byes, and
 * because the lowest seeds face the top ones, the byes go to the top seeds.
 */
export const firstRoundPairings = (teams: number): ReadonlyArray<SeedPairing> => {
  if (!Number.isInteger(teams) || teams < 2) throw new RangeError(`A bracket needs at least 2 teams, got ${teams}`)
  const order = seedOrder(bracketSize(teams))
  const pairings: Array<SeedPairing> = []
  for (let position = 0; position < order.length / 2; position++) {
    const seedA = order[2 * position]!
    const seedB = order[2 * position + 1]!
    pairings.push({ position, seedA, seedB: seedB > teams ? undefined : seedB })
  }
  return pairings
}

/**
 * Pairs the winners of one completed round, given by position, for the
 * next round. Returns nothing for a final (a single winner).
 */
export const nextRoundPairings = (winnersByPosition: ReadonlyArray<string>): ReadonlyArray<WinnerPairing> => {
  const matches = winnersByPosition.length
  if (matches === 0 || (matches & (matches - 1)) !== 0) {
    throw new RangeError(`A round must have a power-of-two number of matches, got ${matches}`)
  }
  const pairings: Array<WinnerPairing> = []
  for (let position = 0; position < Math.floor(matches / 2); position++) {
    pairings.push({
      position,
      teamAId: winnersByPosition[2 * position]!,
      teamBId: winnersByPosition[2 * position + 1]!
    })
  }
  return pairings
}
