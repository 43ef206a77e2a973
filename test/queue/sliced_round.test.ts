import { describe, expect, test } from "bun:test";
import { SlicedRound } from "../../src/queue/sliced_round.ts";

/** Resolves after the event loop ran the immediates queued so far (and the ones they queue, `turns` deep). */
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe("SlicedRound", () => {
  test("a round with no time to spare does one element per turn, each exactly once, in order", async () => {
    const seen: number[] = [];
    const round = new SlicedRound<number>((n) => void seen.push(n), () => {}, 0);
    expect(round.start([1, 2, 3, 4])).toBe(true);
    expect(seen).toEqual([1]);
    expect(round.start([9])).toBe(false);
    await turns(5);
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(round.running).toBe(false);
    expect(round.start([5])).toBe(true);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });

  test("a round's onDone runs once, after its last element, even after one threw; never for a round stopped first", async () => {
    const events: string[] = [];
    const round = new SlicedRound<number>(
      (n) => {
        if (n === 2) throw new Error("two");
        events.push(`each ${n}`);
      },
      (error) => events.push(`error ${(error as Error).message}`),
      0,
    );
    round.start([1, 2, 3], () => events.push("done"));
    await turns(6);
    expect(events).toEqual(["each 1", "error two", "each 3", "done"]);

    round.start([4, 5], () => events.push("done again"));
    round.stop();
    await turns(6);
    expect(events).toEqual(["each 1", "error two", "each 3", "done", "each 4"]);
    // A later round's onDone is its own.
    round.start([6], () => events.push("done 6"));
    await turns(2);
    expect(events.slice(5)).toEqual(["each 6", "done 6"]);
  });

  test("a round with time to spare finishes in the turn it starts", () => {
    const seen: number[] = [];
    const round = new SlicedRound<number>((n) => void seen.push(n), () => {}, 1000);
    round.start([1, 2, 3]);
    expect(seen).toEqual([1, 2, 3]);
    expect(round.running).toBe(false);
  });

  test("an element that throws is reported and the round goes on; stop drops the rest", async () => {
    const seen: number[] = [];
    const errors: string[] = [];
    const round = new SlicedRound<number>(
      (n) => {
        if (n === 2) throw new Error("two");
        seen.push(n);
      },
      (error, n) => errors.push(`${n}: ${(error as Error).message}`),
      0,
    );
    round.start([1, 2, 3, 4, 5]);
    await turns(2);
    round.stop();
    await turns(5);
    expect(errors).toEqual(["2: two"]);
    expect(seen).toEqual([1, 3]);
    expect(round.running).toBe(false);
  });
});

describe("SlicedRound elements with more work than a slice", () => {
  test("an element that returns false is handed over again until it is done, then the round goes on", async () => {
    const left = new Map([
      ["a", 3],
      ["b", 1],
    ]);
    const calls: string[] = [];
    const round = new SlicedRound<string>(
      (name) => {
        calls.push(name);
        const rest = left.get(name)! - 1;
        left.set(name, rest);
        return rest === 0;
      },
      () => {},
      0,
    );
    round.start(["a", "b"]);
    await turns(6);
    expect(calls).toEqual(["a", "a", "a", "b"]);
    expect(round.running).toBe(false);
  });
});
