import { expect, test } from "bun:test";
import { PingClock, pingFigures } from "../../bench/lib/ping.ts";

test("one ping in flight: a due time that passes while it waits sends nothing, and its gap runs from when it was due", () => {
  const clock = new PingClock(5, 1000);
  expect(clock.fire(1000.5)).toBe(true); // due 1000
  expect(clock.dueAt).toBe(1005);
  expect(clock.answered(1001)).toBe(1);
  expect(clock.fire(1005)).toBe(true); // due 1005: the server stalls
  expect(clock.fire(1010)).toBe(false);
  expect(clock.fire(1015.2)).toBe(false);
  expect(clock.answered(1017)).toBe(12);
  expect(clock.fire(1020)).toBe(true);
  expect(clock.answered(1021)).toBe(1);
  expect(clock.sent).toBe(3);
  const figures = pingFigures(clock, 10, null);
  expect(figures).toMatchObject({ sent: 3, worstGapMs: 12, overLimit: 1, limitMs: 10, failure: null });
  expect(figures.worstLatenessMs).toBeCloseTo(0.5);
});

test("a timer that fires late skips the due times it missed and its lateness is recorded", () => {
  const clock = new PingClock(5, 0);
  expect(clock.fire(23)).toBe(true); // due 0, fired 23 ms late
  expect(clock.dueAt).toBe(25);
  expect(clock.answered(24)).toBe(24);
  expect(pingFigures(clock, 20, null)).toMatchObject({ worstLatenessMs: 23, worstGapMs: 24, p99GapMs: 24 });
});

test("a reply with no ping in flight is a bug in the caller", () => {
  expect(() => new PingClock(5, 0).answered(1)).toThrow();
});
