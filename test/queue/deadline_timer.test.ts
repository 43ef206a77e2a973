import { describe, expect, spyOn, test } from "bun:test";
import { log } from "../../src/log.ts";
import { CHECK_EVERY, DeadlineTimer, FIRE_SLICE_MS } from "../../src/queue/deadline_timer.ts";
import { seededRandom } from "../helpers/bytes.ts";
import { nextTurn, steppedTurnClock } from "../helpers/turn_clock.ts";

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

test("a deadline that throws (a bug) is logged once; those due with it fire and the timer stays armed for later ones", async () => {
  const logged = spyOn(log, "error").mockImplementation(() => {});
  try {
    const timer = new DeadlineTimer();
    const fired: string[] = [];
    timer.add(0, () => {
      throw new Error("a bug in a deadline");
    });
    timer.add(0, () => fired.push("due with it"));
    // Added once the bug has fired: only a timer armed again fires it.
    await new Promise<void>((resolve) => timer.add(0, () => timer.add(1, resolve)));
    expect(fired).toEqual(["due with it"]);
    expect(logged.mock.calls.map((call) => String(call[0]))).toEqual(["internal error firing a deadline: a bug in a deadline"]);
  } finally {
    logged.mockRestore();
  }
});

describe("deadlines that come together", () => {
  // Every look at the turns' clock moves it 0.1 ms on: a slice is about 20 looks.
  const turns = steppedTurnClock(0.1);
  /** Fires one turn may run: a look per CHECK_EVERY fires, and one more look's worth over (+1: sums of 0.1 fall a hair short). */
  const PER_TURN = CHECK_EVERY * (Math.round(FIRE_SLICE_MS / turns.step) + 2);

  test("fire a slice a turn, in order, none before its time", async () => {
    let now = 0;
    const timer = new DeadlineTimer(() => now);
    const COUNT = 1000;
    const fired: number[] = [];
    // A microsecond apart, within a millisecond: due together, in a known order.
    for (let i = 0; i < COUNT; i++, now += 0.001) timer.add(100, () => fired.push(i));
    timer.add(200, () => fired.push(-1));
    now = 101;
    timer.fireDue();
    expect(fired.length).toBeGreaterThan(0);
    expect(fired.length).toBeLessThanOrEqual(PER_TURN);
    let rounds = 0;
    for (let before = fired.length; fired.length < COUNT; before = fired.length) {
      await nextTurn();
      rounds++;
      expect(fired.length - before).toBeLessThanOrEqual(PER_TURN);
      expect(rounds).toBeLessThan(1000);
    }
    expect(rounds).toBeGreaterThanOrEqual(Math.floor(COUNT / PER_TURN));
    expect(fired).toEqual(Array.from({ length: COUNT }, (_, i) => i));
    for (let turn = 0; turn < 3; turn++) await nextTurn();
    expect(fired.length).toBe(COUNT); // the one due at 201 waits for its time
    now = 201;
    timer.fireDue();
    expect(fired.at(-1)).toBe(-1);
  });
});
