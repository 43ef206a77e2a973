import { expect, test } from "bun:test";
import { DeadlineTimer } from "../../src/queue/deadline_timer.ts";
import { seededRandom } from "../helpers/bytes.ts";

test("deadlines fire in order, each once; cancelled ones never fire", async () => {
  const timer = new DeadlineTimer();
  const random = seededRandom(11);
  const now = Date.now();
  const fired: number[] = [];
  const expected: number[] = [];
  const entries = [];
  for (let i = 0; i < 300; i++) {
    const at = now + Math.floor(random() * 60);
    entries.push({ at, i, entry: timer.add(at, () => fired.push(at)) });
  }
  for (const { at, entry } of entries) {
    if (random() < 0.7) timer.cancel(entry);
    else expected.push(at);
  }
  const last = Math.max(...expected);
  await new Promise<void>((resolve) => timer.add(last + 1, resolve));
  expect(fired).toEqual(expected.sort((a, b) => a - b));
});

test("an earlier deadline added later re-arms the timer", async () => {
  const timer = new DeadlineTimer();
  const order: string[] = [];
  timer.add(Date.now() + 10_000, () => order.push("late"));
  await new Promise<void>((resolve) =>
    timer.add(Date.now() + 5, () => {
      order.push("early");
      resolve();
    }),
  );
  expect(order).toEqual(["early"]);
});
