import { describe, expect, test } from "bun:test";
import { AliasTable } from "../../src/queue/aliases.ts";

describe("AliasTable", () => {
  test("holds exactly the configured aliases; one that stays keeps its counters", () => {
    const table = new AliasTable();
    table.configure(new Map([["x", ["a"]], ["y", ["b"]]]));
    table.get("x")!.noteAdd(5);
    table.configure(new Map([["x", ["a", "c"]], ["z", []]]));
    expect(table.stats()).toEqual([
      { name: "x", putItems: 1, putBytes: 5, destinations: ["a", "c"] },
      { name: "z", putItems: 0, putBytes: 0, destinations: [] },
    ]);
    expect(table.has("y")).toBe(false);
  });
});
