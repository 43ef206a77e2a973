import { describe, expect, test } from "bun:test";
import { MalformedReply } from "../../src/client/protocol.ts";
import { queueStatsFromLines } from "../../src/client/queue_stats.ts";

describe("queueStatsFromLines", () => {
  test("one entry per block, in the server's order, every figure a number; names with '_' stay whole", () => {
    const lines = ["queue 'jobs' {", "  items=2", "  open_transactions=1", "  age=15", "}", "queue 'a_total' {", "  items=0", "  total_items=7", "}"];
    expect(queueStatsFromLines(lines)).toEqual(
      new Map<string, Record<string, number>>([
        ["jobs", { items: 2, open_transactions: 1, age: 15 }],
        ["a_total", { items: 0, total_items: 7 }],
      ]),
    );
  });

  test("names may hold any printable character but space, ' and { included (Kestrel 2's rule)", () => {
    const lines = ["queue 'it's' {", "  items=1", "}", "queue 'a{b}' {", "  items=2", "  children=a{b}+x", "}"];
    expect([...queueStatsFromLines(lines)]).toEqual([
      ["it's", { items: 1 }],
      ["a{b}", { items: 2 }],
    ]);
  });

  test("no queues, no blocks", () => {
    expect(queueStatsFromLines([])).toEqual(new Map());
  });

  test("a value that is not a number is left out", () => {
    expect(queueStatsFromLines(["queue 'q' {", "  items=3", "  note=hello", "  empty=", "}"]).get("q")).toEqual({ items: 3 });
  });

  test("anything but blocks is refused, so another reply is never read as one", () => {
    for (const lines of [["STAT pid 1"], ["  items=1"], ["queue 'q' {", "items 1", "}"], ["queue 'q' {", "  items=1"], ["}"], ["queue 'q' {", "queue 'r' {", "}"]]) {
      expect(() => queueStatsFromLines(lines)).toThrow(MalformedReply);
    }
  });
});
