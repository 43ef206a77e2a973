import { describe, expect, spyOn, test } from "bun:test";
import { flushJournals, markDirty, type Flushable } from "../../src/journal/flush_scheduler.ts";
import { log } from "../../src/log.ts";

const MiB = 1024 * 1024;
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A journal whose flush "writes" `bytes` and records the order it was flushed in. */
function journal(name: string, bytes: number, flushed: string[]): Flushable {
  return {
    flushUpTo: () => {
      flushed.push(name);
      return bytes;
    },
    flushBroke: () => {},
  };
}

describe("flush scheduler", () => {
  test("a turn writes journals until 8 MiB went out; the rest go next turn, in order", async () => {
    const flushed: string[] = [];
    for (const name of ["a", "b", "c", "d"]) markDirty(journal(name, 5 * MiB, flushed));
    await turn();
    expect(flushed).toEqual(["a", "b"]);
    const late = journal("e", 1, flushed);
    markDirty(late);
    await turn();
    expect(flushed).toEqual(["a", "b", "c", "d"]);
    await turn();
    expect(flushed).toEqual(["a", "b", "c", "d", "e"]);
  });

  test("small writes all go in one turn; flushJournals writes everything at once", async () => {
    const flushed: string[] = [];
    for (let i = 0; i < 100; i++) markDirty(journal(`s${i}`, 1000, flushed));
    await turn();
    expect(flushed.length).toBe(100);
    for (const name of ["x", "y", "z"]) markDirty(journal(name, 64 * MiB, flushed));
    flushJournals();
    expect(flushed.slice(100)).toEqual(["x", "y", "z"]);
  });

  test("a flush queued before a flushJournals() does not give a later turn a second budget", async () => {
    const flushed: string[] = [];
    markDirty(journal("early", 1, flushed)); // queues a turn's flush
    flushJournals(); // writes it now; the queued flush finds nothing
    for (const name of ["a", "b", "c", "d"]) markDirty(journal(name, 5 * MiB, flushed));
    await turn();
    expect(flushed).toEqual(["early", "a", "b"]);
    await turn();
    expect(flushed).toEqual(["early", "a", "b", "c", "d"]);
  });


  test("a journal that is dirty again after its flush waits for a later flush, behind the others", async () => {
    const flushed: string[] = [];
    let left = 3;
    const again: Flushable = {
      flushUpTo: () => {
        flushed.push("again");
        if (--left > 0) markDirty(again); // records left: it asks for another turn
        return 1;
      },
      flushBroke: () => {},
    };
    markDirty(again);
    markDirty(journal("b", 1, flushed));
    flushJournals();
    expect(flushed).toEqual(["again", "b"]);
    await turn();
    expect(flushed).toEqual(["again", "b", "again"]);
    flushJournals();
    expect(flushed).toEqual(["again", "b", "again", "again"]);
    await turn();
    expect(flushed.length).toBe(4);
  });

  test("a turn also stops writing after 3 ms (1,000 new queues each creating its file); the rest go next turn, in order", async () => {
    const flushed: string[] = [];
    const slow = (name: string): Flushable => ({
      flushUpTo: () => {
        const end = performance.now() + 4;
        while (performance.now() < end);
        flushed.push(name);
        return 100;
      },
      flushBroke: () => {},
    });
    const names = ["a", "b", "c", "d", "e"];
    for (const name of names) markDirty(slow(name));
    const perTurn: number[] = [];
    while (flushed.length < names.length) {
      const before = flushed.length;
      await turn();
      perTurn.push(flushed.length - before);
    }
    expect(flushed).toEqual(names);
    expect(perTurn).toEqual([1, 1, 1, 1, 1]);
  });

  test("a journal whose flush throws (a bug) is logged once and told so (its records wait for the retry); the others are written in the same turn and the next turn's", async () => {
    const logged = spyOn(log, "error").mockImplementation(() => {});
    try {
      const flushed: string[] = [];
      const broke: string[] = [];
      const buggy: Flushable = {
        flushUpTo: () => {
          throw new Error("a bug in a flush");
        },
        flushBroke: (reason) => void broke.push(reason),
      };
      markDirty(journal("a", 1, flushed));
      markDirty(buggy);
      markDirty(journal("b", 1, flushed));
      await turn();
      expect(flushed).toEqual(["a", "b"]);
      expect(broke).toEqual(["a bug in a flush"]);
      expect(logged.mock.calls.map((call) => String(call[0]))).toEqual(["internal error writing a journal: a bug in a flush"]);
      // The turn's flush is still asked for by the next journal made dirty.
      markDirty(journal("c", 1, flushed));
      await turn();
      expect(flushed).toEqual(["a", "b", "c"]);
    } finally {
      logged.mockRestore();
    }
  });
});
