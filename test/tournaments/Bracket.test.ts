import { describe, expect, it } from "@effect/vitest"
import { bracketSize, firstRoundPairings, nextRoundPairings, seedOrder } from "../../src/tournaments/Bracket.ts"

describe("Bracket", () => {
  it("size is the next power of two", () => {
    expect([2, 3, 4, 5, 8, 9].map(bracketSize)).toEqual([2, 4, 4, 8, 8, 16])
  })

  it("seed order keeps top seeds apart", () => {
    expect(seedOrder(2)).toEqual([1, 2])
    expect(seedOrder(4)).toEqual([1, 4, 2, 3])
    expect(seedOrder(8)).toEqual([1, 8, 4, 5, 2, 7, 3, 6])
  })

  it("byes go to the top seeds", () => {
    expect(firstRoundPairings(5)).toEqual([
      { position: 0, seedA: 1, seedB: undefined },
      { position: 1, seedA: 4, seedB: 5 },
      { position: 2, seedA: 2, seedB: undefined },
      { position: 3, seedA: 3, seedB: undefined }
    ])
    expect(firstRoundPairings(4).every((pairing) => pairing.seedB !== undefined)).toBe(true)
  })

  it("one team is not a bracket", () => {
    expect(() => firstRoundPairings(1)).toThrow(RangeError)
  })

  it("winners of neighbouring slots meet", () => {
    expect(nextRoundPairings(["a", "b", "c", "d"])).toEqual([
      { position: 0, teamAId: "a", teamBId: "b" },
      { position: 1, teamAId: "c", teamBId: "d" }
    ])
    expect(nextRoundPairings(["champion"])).toEqual([])
    expect(() => nextRoundPairings(["a", "b", "c"])).toThrow(RangeError)
  })
})
