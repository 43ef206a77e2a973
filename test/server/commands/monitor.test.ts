import { afterEach, describe, expect, test } from "bun:test";
import type { Item } from "../../../src/journal/item.ts";
import { startMonitor, type MonitorRequest } from "../../../src/server/commands/monitor.ts";
import { CONNECTION_TURN_MS } from "../../../src/server/turn_scheduler.ts";
import { bytes, text } from "../../helpers/bytes.ts";
import { configFor } from "../../helpers/config.ts";
import { FakeSession } from "../../helpers/fake_session.ts";
import { serverContext } from "../../helpers/server_context.ts";
import { tempDir } from "../../helpers/temp_dir.ts";
import { nextTurn, steppedTurnClock } from "../../helpers/turn_clock.ts";

let close: (() => void) | null = null;
afterEach(() => close?.());
// Time stands still for the turns' clock (each test in a fresh turn): a few items are one slice.
steppedTurnClock(0);

/** A server whose queue `q` allows `limit` open items and holds `items`; the clock reads `clock.now`. */
function setUp(limit: number, items: readonly string[]) {
  const { ctx, queues } = serverContext(configFor(tempDir(), `max_open_transactions = ${limit}\n`));
  close = () => queues.close();
  for (const item of items) queues.add("q", bytes(item), 0, Date.now());
  const clock = { now: 1000 };
  const session = new FakeSession();
  const seen: string[] = [];
  let ended = 0;
  const events = { item: (item: Item) => void seen.push(text(item.data)), end: () => void ended++ };
  const monitor = (request: Partial<MonitorRequest> = {}) =>
    startMonitor({ queue: "q", deadlineMs: clock.now + 60_000, maxItems: 100, ...request }, session, ctx, events, () => clock.now);
  return { ctx, queues, clock, session, seen, ended: () => ended, monitor, queue: () => queues.get("q")! };
}

test("opens what is there up to the open limit and ends at once, without suspending", () => {
  const s = setUp(2, ["a", "b", "c"]);
  expect(s.monitor()).toBeNull();
  expect([s.seen, s.ended(), s.session.suspended, s.session.openReads.count(s.queue())]).toEqual([["a", "b"], 1, false, 2]);
  // At the limit, a second monitor opens nothing.
  expect(s.monitor()).toBeNull();
  expect([s.seen.length, s.ended()]).toEqual([2, 2]);
});

test("max_items, a deadline already reached and 0 items end it before opening anything more", () => {
  const s = setUp(10, ["a", "b", "c"]);
  s.monitor({ maxItems: 1 });
  s.monitor({ maxItems: 0 });
  s.monitor({ deadlineMs: s.clock.now });
  expect([s.seen, s.ended()]).toEqual([["a"], 3]);
});

test("waits while the queue is empty, takes items as they come, and ends when the deadline passes", () => {
  const s = setUp(10, ["a"]);
  s.monitor();
  expect([s.seen, s.ended(), s.session.suspended]).toEqual([["a"], 0, true]);
  s.queues.add("q", bytes("b"), 0, Date.now());
  expect([s.seen, s.ended(), s.session.repliesReady]).toEqual([["a", "b"], 0, 1]);
  s.clock.now += 60_000;
  s.queues.add("q", bytes("c"), 0, Date.now());
  // The waiter took c before the deadline was looked at: handed out, then the end.
  expect([s.seen, s.ended(), s.session.suspended, s.session.resumed]).toEqual([["a", "b", "c"], 1, false, 1]);
});

test("a server turning quiescent ends a waiting monitor; one refuses to start on a quiescent server", () => {
  const s = setUp(10, ["a"]);
  s.monitor();
  s.ctx.status.change("quiescent", "test");
  expect([s.seen, s.ended(), s.session.suspended]).toEqual([["a"], 1, false]);
  expect(s.session.openReads.count(s.queue())).toBe(1);
  expect(s.monitor()).toEqual({ kind: "unavailable", reason: "server is quiescent: gets are refused" });
  expect(s.ended()).toBe(1);
});

test("the connection closing while it waits cancels the wait and returns what it opened", () => {
  const s = setUp(10, ["a", "b"]);
  s.monitor();
  expect(s.queue().stats().waiters).toBe(1);
  s.session.close();
  expect(s.queue().stats()).toMatchObject({ waiters: 0, openTransactions: 0, items: 2 });
  expect(text(s.queue().remove(Date.now())!.data)).toBe("b"); // aborted oldest first: the newest at the head
});

describe("a monitor of many items", () => {
  // Every look at the turns' clock moves it 1 ms on: a slice opens a few items whatever the machine.
  steppedTurnClock(1);

  test("opens them a slice per turn with the session suspended, each slice's items written out as they come, then ends and resumes", async () => {
    const items = Array.from({ length: 200 }, (_, i) => `item-${i}`);
    const s = setUp(1000, items);
    s.monitor({ maxItems: 200 });
    const first = s.seen.length;
    // A turn's worth (the connection's budget, CONNECTION_TURN_MS), not all 200.
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(CONNECTION_TURN_MS);
    expect([s.ended(), s.session.suspended]).toEqual([0, true]);
    const perTurn: number[] = [];
    for (let turns = 0; s.ended() === 0; turns++) {
      expect(turns).toBeLessThan(1000);
      const before = s.seen.length;
      await nextTurn();
      perTurn.push(s.seen.length - before);
    }
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(CONNECTION_TURN_MS);
    expect(perTurn.length).toBeGreaterThan(200 / CONNECTION_TURN_MS / 2);
    expect(s.seen).toEqual(items);
    expect([s.ended(), s.session.suspended, s.session.resumed, s.session.openReads.count(s.queue())]).toEqual([1, false, 1, 200]);
    expect(s.session.repliesReady).toBe(200 - first);
  });

  test("the connection closing between slices stops it; what it opened goes back", async () => {
    const s = setUp(1000, Array.from({ length: 200 }, (_, i) => `item-${i}`));
    s.monitor({ maxItems: 200 });
    const opened = s.seen.length;
    s.session.close();
    for (let i = 0; i < 20; i++) await nextTurn();
    expect([s.seen.length, s.ended()]).toEqual([opened, 0]);
    expect(s.queue().stats()).toMatchObject({ items: 200, openTransactions: 0 });
  });
});
