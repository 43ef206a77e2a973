/**
 * A turns' clock (turn_scheduler.ts) for the tests of one file or describe block: from each test's
 * start, every look at it moves it `step` ms on, so work costs what the test says whatever the
 * machine; a test may set `time` (to a turn's deadline, say) or `step` (0: time stands still).
 * Each test starts in a fresh turn (the one left open by what ran before ends first), and the
 * real clock is put back after it. And a loop over turns that checks how much each did.
 */
import { afterEach, beforeEach, expect } from "bun:test";
import { turnClock } from "../../src/clock.ts";

/** Resolves in the next event-loop turn (after a scheduler round due now). */
export const nextTurn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

export interface SteppedClock {
  time: number;
  step: number;
}

/** Installs the stepped clock around every test of the calling file or describe block. */
export function steppedTurnClock(step: number): SteppedClock {
  const realClock = turnClock.now;
  const clock: SteppedClock = { time: 0, step };
  beforeEach(async () => {
    await nextTurn();
    clock.time = performance.now();
    clock.step = step;
    turnClock.now = () => (clock.time += clock.step);
  });
  afterEach(() => {
    turnClock.now = realClock;
  });
  return clock;
}

/**
 * Turns until `done`, checking that `progress` (a count that only grows: waiters woken, waits
 * ended) went up by at most `perTurn` in each, and that it takes fewer than `maxTurns`; how many turns.
 */
export async function turnsUntil(done: () => boolean, progress: () => number, perTurn: number, maxTurns = 1000): Promise<number> {
  let turns = 0;
  for (let before = progress(); !done(); before = progress()) {
    await nextTurn();
    turns++;
    expect(progress() - before).toBeLessThanOrEqual(perTurn);
    expect(turns).toBeLessThan(maxTurns);
  }
  return turns;
}
