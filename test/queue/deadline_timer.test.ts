import { expect, test } from "bun:test";
import { DeadlineTimer } from "../../src/queue/deadline_timer.ts";
import { seededRandom } from "../helpers/bytes.ts";

test("deadlines fire in order, each once; cancelled ones never fire", async () => {
  const timer = new DeadlineTimer();
  const random = seededRandom(11);
  const fired: number[] = [];
  const expected: number[] = [];
  const entries = [];
  for (let i = 0; i < 300; i++) {
    // `at` is when it is due on the timer's clock: the delay from the moment it was added.
    const entry = timer.add(Math.floor(random() * 60), () => fired.push(entry.at));
    entries.push(entry);
  }
  for (const entry of entries) {
    if (random() < 0.7) timer.cancel(entry);
    else expected.push(entry.at);
  }
  await new Promise<void>((resolve) => timer.add(61, resolve));
  expect(fired).toEqual(expected.sort((a, b) => a - b));
});

test("an earlier deadline added later re-arms the timer", async () => {
  const timer = new DeadlineTimer();
  const order: string[] = [];
  timer.add(10_000, () => order.push("late"));
  await new Promise<void>((resolve) =>
    timer.add(5, () => {
      order.push("early");
      resolve();
    }),
  );
  expect(order).toEqual(["early"]);
});
