import { expect, spyOn, test } from "bun:test";
import { log } from "../../src/log.ts";
import { holdAfter, newReceiveTally } from "../../src/server/receive_budget.ts";

const KiB = 1024;
const turn = () => new Promise((resolve) => setImmediate(resolve));

test("once the others received 1 MiB during a turn, big receivers wait; they read again in order, 2 a turn", async () => {
  await turn();
  const resumed: number[] = [];
  const held: number[] = [];
  // Each of 20 connections reads 512 KiB: once the others hold 1 MiB of the turn, the rest wait.
  for (let i = 0; i < 20; i++) if (holdAfter(512 * KiB, newReceiveTally(), () => resumed.push(i))) held.push(i);
  expect(held).toEqual(Array.from({ length: 17 }, (_, i) => 3 + i));
  // Small chunks (a ping, ordinary requests) are never held, however much came in.
  expect(holdAfter(100, newReceiveTally(), () => resumed.push(-1))).toBe(false);
  expect(holdAfter(63 * KiB, newReceiveTally(), () => resumed.push(-1))).toBe(false);

  await turn();
  expect(resumed).toEqual([3, 4]);
  // A new turn: its own budget.
  expect(holdAfter(512 * KiB, newReceiveTally(), () => resumed.push(99))).toBe(false);
  for (let t = 0; t < 8; t++) await turn();
  expect(resumed).toEqual(Array.from({ length: 17 }, (_, i) => 3 + i));
  await turn();
  expect(resumed).not.toContain(-1);
  expect(resumed).not.toContain(99);
});

test("a lone big upload is never held: its own reads don't count against it", async () => {
  await turn();
  const tally = newReceiveTally();
  for (let read = 0; read < 40; read++) expect(holdAfter(512 * KiB, tally, () => {})).toBe(false);
  // Another connection's big chunk in the same turn is held: the first one took the budget.
  expect(holdAfter(512 * KiB, newReceiveTally(), () => {})).toBe(true);
  await turn();
  await turn();
});

test("40 big uploads at once: each turn receives about the budget, not the budget for those let go again plus as much for those still reading; none waits for long", async () => {
  await turn();
  const uploads = Array.from({ length: 40 }, () => ({ tally: newReceiveTally(), paused: false, lastRead: 0 }));
  const perTurn: number[] = [];
  for (let t = 1; t <= 60; t++) {
    let bytes = 0;
    // Bun reads each readable socket in a turn: here every upload that isn't paused, 512 KiB each.
    for (const upload of uploads) {
      if (upload.paused) continue;
      bytes += 512 * KiB;
      upload.lastRead = t;
      if (holdAfter(512 * KiB, upload.tally, () => (upload.paused = false))) upload.paused = true;
    }
    perTurn.push(bytes);
    // Held ones read again 2 a turn, in order: none of the 40 waits longer than its place in line.
    for (const upload of uploads) expect(t - upload.lastRead).toBeLessThanOrEqual(20);
    await turn();
  }
  // The first turn reads all 40; from then on about the budget, 2 MiB a turn (one read past it at most).
  expect(perTurn[0]).toBe(40 * 512 * KiB);
  expect(Math.max(...perTurn.slice(2))).toBeLessThanOrEqual(2 * 1024 * KiB + 512 * KiB);
  // Those still held read again 2 a turn: let them all go before the next test.
  for (let t = 0; t < 25; t++) await turn();
});

test("a held connection whose resume throws (a bug) is logged once; those held after it read again, in the same turn and the next", async () => {
  await turn();
  const logged = spyOn(log, "error").mockImplementation(() => {});
  try {
    const resumed: number[] = [];
    const held: number[] = [];
    const buggy = () => {
      throw new Error("a bug in a resume");
    };
    // The first held one (3) throws when it is let read again.
    for (let i = 0; i < 20; i++) if (holdAfter(512 * KiB, newReceiveTally(), i === 3 ? buggy : () => resumed.push(i))) held.push(i);
    expect(held).toEqual(Array.from({ length: 17 }, (_, i) => 3 + i));
    await turn();
    expect(resumed).toEqual([4]);
    expect(logged.mock.calls.map((call) => String(call[0]))).toEqual(["internal error letting a held connection read again: a bug in a resume"]);
    await turn();
    expect(resumed).toEqual([4, 5, 6]);
    for (let t = 0; t < 7; t++) await turn();
    expect(resumed).toEqual(Array.from({ length: 16 }, (_, i) => 4 + i));
  } finally {
    logged.mockRestore();
  }
});
