import { describe, expect, test } from "bun:test";
import type { SegmentInfo } from "../../src/journal/record.ts";
import { SegmentChain } from "../../src/journal/segment_chain.ts";

const name = (seq: number) => `q.${seq}`;
const info = (seq: number, prevBytes: number, prevRecords: number, pack = false): SegmentInfo => ({ seq, prevBytes, prevRecords, floor: 1, pack });

/** Replays segments given as [seq, bytes, records, the SEGMENT record or null]; returns the breaks found. */
function walk(segments: ReadonlyArray<readonly [number, number, number, SegmentInfo | null]>): string[] {
  const chain = new SegmentChain();
  const found: string[] = [];
  for (const [seq, bytes, records, record] of segments) {
    chain.begin();
    if (record !== null) {
      const lost = chain.follow(seq, record, name);
      if (lost !== null) found.push(`${lost.description} = ${lost.records}`);
    }
    chain.end(seq, bytes, records);
  }
  return found;
}

describe("SegmentChain", () => {
  test("segments as they were sealed: nothing to say", () => {
    expect(walk([[3, 500, 9, info(3, 400, 7)], [4, 600, 10, info(4, 500, 9)], [5, 59, 1, info(5, 600, 10)]])).toEqual([]);
  });

  test("the oldest segments deleted once consumed are not a loss", () => {
    expect(walk([[7, 500, 9, info(7, 400, 7)], [8, 59, 1, info(8, 500, 9)]])).toEqual([]);
  });

  test("a hole after the start is, with the records the next segment counts", () => {
    expect(walk([[3, 500, 9, null], [5, 59, 1, info(5, 600, 10)]])).toEqual(["q.4 missing (at least 10 records) = 10"]);
    expect(walk([[3, 500, 9, null], [6, 59, 1, info(6, 600, 10)]])).toEqual(["q.4 to q.5 missing (at least 10 records) = 10"]);
  });

  test("a segment shorter than when it was sealed: the bytes and records missing", () => {
    expect(walk([[3, 300, 4, null], [4, 59, 1, info(4, 500, 9)]])).toEqual(["q.3 is 200 bytes shorter than when it was sealed (5 of its 9 records missing) = 5"]);
  });

  test("a pack is the start of its chain, and the segment after it describes what the pack replaced", () => {
    expect(walk([[3, 120, 3, info(3, 0, 0, true)], [4, 59, 1, info(4, 5000, 90)]])).toEqual([]);
  });
});
