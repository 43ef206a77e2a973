import { expect, test } from "bun:test";
import { holdAfter } from "../../src/server/receive_budget.ts";

const KiB = 1024;
const turn = () => new Promise((resolve) => setImmediate(resolve));

test("once 4 MiB came in during a turn, big receivers wait; they read again in order, 8 a turn", async () => {
  await turn();
  const resumed: number[] = [];
  const held: number[] = [];
  // 8 reads of 512 KiB fill the turn's budget; the next 12 big ones are held.
  for (let i = 0; i < 20; i++) if (holdAfter(512 * KiB, () => resumed.push(i))) held.push(i);
  expect(held).toEqual(Array.from({ length: 12 }, (_, i) => 8 + i));
  // Small chunks (a ping, ordinary requests) are never held, however much came in.
  expect(holdAfter(100, () => resumed.push(-1))).toBe(false);
  expect(holdAfter(63 * KiB, () => resumed.push(-1))).toBe(false);

  await turn();
  expect(resumed).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
  // A new turn: its own budget.
  expect(holdAfter(512 * KiB, () => resumed.push(99))).toBe(false);
  await turn();
  expect(resumed).toEqual([8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  await turn();
  expect(resumed).not.toContain(-1);
  expect(resumed).not.toContain(99);
});
