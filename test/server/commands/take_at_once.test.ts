import { afterEach, expect, test } from "bun:test";
import { isFailure } from "../../../src/server/commands/failure.ts";
import { planReads, runReads, takeAtOnce, type ReadOutcome, type ReadRequest } from "../../../src/server/commands/read_items.ts";
import { bytes, text } from "../../helpers/bytes.ts";
import { configFor } from "../../helpers/config.ts";
import { FakeSession } from "../../helpers/fake_session.ts";
import { serverContext } from "../../helpers/server_context.ts";
import { tempDir } from "../../helpers/temp_dir.ts";

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

function contextWith(items: readonly string[]) {
  const { ctx, queues } = serverContext(configFor(tempDir()));
  closers.push(() => queues.close());
  for (const item of items) queues.add("q", bytes(item), 0, Date.now());
  return ctx;
}

const read = (queue: string, options: Partial<ReadRequest> = {}): ReadRequest => ({
  queue,
  timeoutMs: 0,
  open: false,
  close: false,
  abort: false,
  peek: false,
  ...options,
});

/** The outcome of the general way (a plan, then a run) for one request served at once. */
function general(request: ReadRequest, session: FakeSession, ctx: ReturnType<typeof contextWith>): ReadOutcome<ReadRequest> {
  const plan = planReads([request], session, ctx);
  if (isFailure(plan)) throw new Error(plan.reason);
  let outcome: ReadOutcome<ReadRequest> | null = null;
  runReads(plan, session, ctx, (done) => (outcome = done));
  return outcome!;
}

const counters = (ctx: ReturnType<typeof contextWith>) => ({ cmdGet: ctx.stats.cmdGet, getHits: ctx.stats.getHits, getMisses: ctx.stats.getMisses });

test("a plain take of a queue with an item is served as the general way serves it: the head, the counters, the commit, a handover", () => {
  const fast = contextWith(["1", "2"]);
  const slow = contextWith(["1", "2"]);
  const request = read("q");
  const byFast = takeAtOnce(request, new FakeSession(), fast)!;
  const bySlow = general(request, new FakeSession(), slow);
  expect(byFast.hits.map((hit) => text(hit.item.data))).toEqual(["1"]);
  expect(bySlow.hits.map((hit) => text(hit.item.data))).toEqual(["1"]);
  expect(counters(fast)).toEqual(counters(slow));
  expect([byFast.handovers.length, byFast.refusal]).toEqual([bySlow.handovers.length, bySlow.refusal]);
  expect(byFast.commit).toBe(fast.queues.get("q")!.commit);

  // The handover gives the item back to the head, as the general way's does.
  byFast.handovers[0]!.giveBack();
  expect(text(fast.queues.get("q")!.remove(Date.now())!.data)).toBe("1");
});

test("anything else is left to the general way, with nothing taken, counted or created", () => {
  const ctx = contextWith(["1"]);
  const session = new FakeSession();
  const declined = [read("q", { close: true }), read("q", { abort: true }), read("q", { peek: true }), read("q", { open: true, abort: true }), read("missing"), read("missing", { open: true }), read("missing", { timeoutMs: 100 })];
  for (const request of declined) expect(takeAtOnce(request, session, ctx)).toBeNull();
  expect(ctx.queues.get("missing")).toBeUndefined();

  // An item open on this session: a plain take is the general way's refusal to give.
  const held = general(read("q", { open: true }), session, ctx);
  expect(held.hits.length).toBe(1);
  ctx.queues.add("q", bytes("2"), 0, Date.now());
  const before = counters(ctx);
  expect(takeAtOnce(read("q"), session, ctx)).toBeNull();
  expect(counters(ctx)).toEqual(before);
  expect(ctx.queues.get("q")!.live().items).toBe(1);

  // Another session may take it.
  expect(takeAtOnce(read("q"), new FakeSession(), ctx)!.hits.map((hit) => text(hit.item.data))).toEqual(["2"]);
});

test("an empty queue and a server that refuses reads are left to the general way (it waits, counts the miss, or refuses)", () => {
  const ctx = contextWith([]);
  const before = counters(ctx);
  expect(takeAtOnce(read("q"), new FakeSession(), ctx)).toBeNull();
  expect(counters(ctx)).toEqual(before);

  ctx.queues.add("q", bytes("1"), 0, Date.now());
  expect(ctx.status.change("quiescent", "test")).toBeNull();
  expect(takeAtOnce(read("q"), new FakeSession(), ctx)).toBeNull();
  expect(ctx.queues.get("q")!.live().items).toBe(1);
  expect(counters(ctx)).toEqual(before);
});

/** What a session and its queue hold after a read: the items open on the session, the queue's items and counters. */
function state(ctx: ReturnType<typeof contextWith>, session: FakeSession) {
  const queue = ctx.queues.get("q")!;
  return { open: session.openReads.count(queue), queued: queue.live(), ...counters(ctx), transactions: queue.stats().transactions };
}

test("reliable reads (open, close/open) are served as the general way serves them", () => {
  const fast = contextWith(["1", "2", "3"]);
  const slow = contextWith(["1", "2", "3"]);
  const [fastSession, slowSession] = [new FakeSession(), new FakeSession()];
  for (const request of [read("q", { open: true }), read("q", { close: true, open: true }), read("q", { close: true, open: true })]) {
    const byFast = takeAtOnce(request, fastSession, fast)!;
    const bySlow = general(request, slowSession, slow);
    expect(byFast.hits.map((hit) => text(hit.item.data))).toEqual(bySlow.hits.map((hit) => text(hit.item.data)));
    // Each way marks the item it opened: its open_transaction_timeout starts once the reply is out.
    expect([byFast.handovers.length, bySlow.handovers.length]).toEqual([1, 1]);
    expect(byFast.commit).toBe(fast.queues.get("q")!.commit);
    expect(state(fast, fastSession)).toEqual(state(slow, slowSession));
  }
  // Item 3 is open; 1 and 2 were confirmed.
  expect(state(fast, fastSession)).toMatchObject({ open: 1, queued: { items: 0, open: 1 } });
});

test("a reliable read the general way must refuse or wait for is left to it, the item held still open", () => {
  const ctx = contextWith(["1"]);
  const session = new FakeSession();
  expect(takeAtOnce(read("q", { open: true }), session, ctx)).not.toBeNull();
  const before = state(ctx, session);
  // A second open without a close: over max_open_transactions (1).
  ctx.queues.add("q", bytes("2"), 0, Date.now());
  expect(takeAtOnce(read("q", { open: true }), session, ctx)).toBeNull();
  // close/open on an empty queue: the general way confirms and waits or misses; here nothing is confirmed.
  expect(takeAtOnce(read("q", { close: true, open: true }), session, ctx)).not.toBeNull();
  const holding = state(ctx, session);
  expect(takeAtOnce(read("q", { close: true, open: true, timeoutMs: 100 }), session, ctx)).toBeNull();
  expect(state(ctx, session)).toEqual(holding);
  expect(before.open).toBe(1);
});
