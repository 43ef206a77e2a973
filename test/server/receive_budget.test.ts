import { expect, spyOn, test } from "bun:test";
import { log } from "../../src/log.ts";
import { holdAfter, newReceiveTally } from "../../src/server/receive_budget.ts";

const KiB = 1024;
const turn = () => new Promise((resolve) => setImmediate(resolve));

test("once the others received 4 MiB during a turn, big receivers wait; they read again in order, 8 a turn", async () => {
  await turn();
  const resumed: number[] = [];
  const held: number[] = [];
  // Each of 20 connections reads 512 KiB: once the others hold 4 MiB of the turn, the rest wait.
  for (let i = 0; i < 20; i++) if (holdAfter(512 * KiB, newReceiveTally(), () => resumed.push(i))) held.push(i);
  expect(held).toEqual(Array.from({ length: 11 }, (_, i) => 9 + i));
  // Small chunks (a ping, ordinary requests) are never held, however much came in.
  expect(holdAfter(100, newReceiveTally(), () => resumed.push(-1))).toBe(false);
  expect(holdAfter(63 * KiB, newReceiveTally(), () => resumed.push(-1))).toBe(false);

  await turn();
  expect(resumed).toEqual([9, 10, 11, 12, 13, 14, 15, 16]);
  // A new turn: its own budget.
  expect(holdAfter(512 * KiB, newReceiveTally(), () => resumed.push(99))).toBe(false);
  await turn();
  expect(resumed).toEqual([9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
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

test("a held connection whose resume throws (a bug) is logged once; those held after it read again, in the same turn and the next", async () => {
  await turn();
  const logged = spyOn(log, "error").mockImplementation(() => {});
  try {
    const resumed: number[] = [];
    const held: number[] = [];
    const buggy = () => {
      throw new Error("a bug in a resume");
    };
    // The first held one (9) throws when it is let read again.
    for (let i = 0; i < 20; i++) if (holdAfter(512 * KiB, newReceiveTally(), i === 9 ? buggy : () => resumed.push(i))) held.push(i);
    expect(held).toEqual(Array.from({ length: 11 }, (_, i) => 9 + i));
    await turn();
    expect(resumed).toEqual([10, 11, 12, 13, 14, 15, 16]);
    expect(logged.mock.calls.map((call) => String(call[0]))).toEqual(["internal error letting a held connection read again: a bug in a resume"]);
    await turn();
    expect(resumed).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  } finally {
    logged.mockRestore();
  }
});
