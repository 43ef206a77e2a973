import { expect, spyOn, test } from "bun:test";
import { log } from "../../src/log.ts";
import { ExpirySweep } from "../../src/server/expiry_sweep.ts";

test("setting the same frequency again, however often, keeps the due time", async () => {
  const { promise: swept, resolve } = Promise.withResolvers<void>();
  const sweep = new ExpirySweep(resolve);
  sweep.setFrequency(40);
  const reloads = setInterval(() => sweep.setFrequency(40), 5);
  await swept;
  clearInterval(reloads);
  sweep.stop();
}, 2000);

test("a new frequency counts from the last sweep: one overdue under it runs at once", async () => {
  let now = 0;
  const { promise: swept, resolve } = Promise.withResolvers<void>();
  const sweep = new ExpirySweep(resolve, () => now);
  sweep.setFrequency(60_000);
  now = 50_000;
  sweep.setFrequency(10_000);
  await swept;
  sweep.stop();
}, 2000);

test("each sweep is due a frequency after the previous one, on the clock given", async () => {
  let now = 0;
  const times: number[] = [];
  const { promise: twice, resolve } = Promise.withResolvers<void>();
  const sweep = new ExpirySweep(() => {
    times.push(now);
    now += 5;
    if (times.length === 2) resolve();
  }, () => now);
  now = 7;
  sweep.setFrequency(5);
  await twice;
  sweep.stop();
  // Overdue at 7 (due at 5): at once; the next is due at 12, which the clock reads after the first.
  expect(times).toEqual([7, 12]);
}, 2000);

test("a sweep that throws (a bug) is logged once; the next sweep runs as usual", async () => {
  const logged = spyOn(log, "error").mockImplementation(() => {});
  let now = 0;
  let sweeps = 0;
  const { promise: again, resolve } = Promise.withResolvers<void>();
  const sweep = new ExpirySweep(() => {
    now += 5;
    if (++sweeps === 1) throw new Error("a bug in a sweep");
    resolve();
  }, () => now);
  try {
    sweep.setFrequency(5);
    await again;
    expect(sweeps).toBe(2);
    expect(logged.mock.calls.map((call) => String(call[0]))).toEqual(["internal error sweeping expired items: a bug in a sweep"]);
  } finally {
    sweep.stop();
    logged.mockRestore();
  }
}, 2000);
