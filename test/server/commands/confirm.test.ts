import { afterEach, describe, expect, test } from "bun:test";
import { confirmReadsInTurns, type ConfirmOutcome } from "../../../src/server/commands/confirm.ts";
import type { Session } from "../../../src/server/commands/session.ts";
import type { ServerContext } from "../../../src/server/context.ts";
import { DEFAULT_QUEUE_CONFIG } from "../../../src/config/schema.ts";
import { ID_RECORD_SIZE } from "../../../src/journal/record.ts";
import { PersistentQueue } from "../../../src/queue/persistent_queue.ts";
import { CONNECTION_TURN_MS } from "../../../src/server/turn_scheduler.ts";
import { bytes, text } from "../../helpers/bytes.ts";
import { configFor } from "../../helpers/config.ts";
import { FakeSession } from "../../helpers/fake_session.ts";
import { serverContext } from "../../helpers/server_context.ts";
import { tempDir } from "../../helpers/temp_dir.ts";
import { TestTimer } from "../../helpers/test_timer.ts";
import { nextTurn, steppedTurnClock } from "../../helpers/turn_clock.ts";

let close: (() => void) | null = null;
afterEach(() => close?.());
// Time stands still for the turns' clock (each test in a fresh turn): a few items are one slice.
steppedTurnClock(0);

function setUp(items: readonly string[], opened: number) {
  const { ctx, queues } = serverContext(configFor(tempDir(), "max_open_transactions = 1000\n"));
  close = () => queues.close();
  for (const item of items) queues.add("q", bytes(item), 0, Date.now());
  const queue = queues.getOrCreate("q");
  const session = new FakeSession();
  for (let i = 0; i < opened; i++) session.openReads.add(queue, queue.open(Date.now())!);
  return { ctx, queue, session };
}

/** A confirm that fits in its first slice: what `done` got, at once. */
function confirmReads(session: Session, ctx: ServerContext, queueName: string, count: number | "all"): ConfirmOutcome | "not yet" {
  let outcome: ConfirmOutcome | "not yet" = "not yet";
  confirmReadsInTurns(session, ctx, queueName, count, (result) => (outcome = result));
  return outcome;
}

test("confirms the oldest count items and returns the commit of their records", () => {
  const { ctx, queue, session } = setUp(["a", "b", "c", "d"], 3);
  expect(confirmReads(session, ctx, "q", 2)).toBe(queue.commit);
  expect(queue.stats().openTransactions).toBe(1);
  session.close();
  expect([text(queue.remove(Date.now())!.data), text(queue.remove(Date.now())!.data)]).toEqual(["c", "d"]);
});

test("more than are open, 0, or a queue that doesn't exist confirm none", () => {
  const { ctx, queue, session } = setUp(["a", "b"], 2);
  expect(confirmReads(session, ctx, "q", 3)).toBeNull();
  expect(confirmReads(session, ctx, "q", 0)).toBeNull();
  expect(confirmReads(session, ctx, "nothing", 1)).toBeNull();
  expect(queue.stats().openTransactions).toBe(2);
  expect(confirmReads(session, ctx, "q", 2)).not.toBeNull();
  expect(queue.stats().openTransactions).toBe(0);
});

test("every server status allows it", () => {
  const { ctx, queue, session } = setUp(["a"], 1);
  ctx.status.change("quiescent", "test");
  expect(confirmReads(session, ctx, "q", 1)).toBe(queue.commit);
});

test('"all" confirms every item open on the queue; a count below 1 confirms none', () => {
  const { ctx, queue, session } = setUp(["a", "b", "c"], 2);
  expect(confirmReads(session, ctx, "q", -1)).toBeNull();
  expect(queue.stats().openTransactions).toBe(2);
  expect(confirmReads(session, ctx, "q", "all")).toBe(queue.commit);
  expect(queue.stats().openTransactions).toBe(0);
  expect(confirmReads(session, ctx, "q", "all")).toBeNull();
  expect(text(queue.remove(Date.now())!.data)).toBe("c");
});

describe("a confirm of many items", () => {
  // Every look at the turns' clock moves it 1 ms on: a slice confirms a few items whatever the machine.
  steppedTurnClock(1);
  const letters = (count: number) => Array.from({ length: count }, (_, i) => `item-${i}`);

  test("confirms them a slice per turn with the session suspended, oldest first; done runs once, after it resumes", async () => {
    const { ctx, queue, session } = setUp(letters(250), 200);
    const outcomes: Array<{ outcome: ConfirmOutcome; suspended: boolean }> = [];
    const removeRecords = () => queue.stats().logsize / ID_RECORD_SIZE;
    const recordsBefore = removeRecords();
    confirmReadsInTurns(session, ctx, "q", 150, (outcome) => outcomes.push({ outcome, suspended: session.suspended }));
    // The 150 oldest are no longer the connection's to settle, nor open; a turn's worth of their
    // REMOVE records is written.
    expect(session.openReads.count(queue)).toBe(50);
    expect(queue.stats().openTransactions).toBe(50);
    const confirmedFirst = removeRecords() - recordsBefore;
    expect(confirmedFirst).toBeGreaterThan(0);
    expect(confirmedFirst).toBeLessThanOrEqual(CONNECTION_TURN_MS);
    expect([session.suspended, outcomes.length]).toEqual([true, 0]);
    const perTurn: number[] = [];
    for (let turns = 0; outcomes.length === 0; turns++) {
      expect(turns).toBeLessThan(1000);
      const before = removeRecords();
      await nextTurn();
      perTurn.push(removeRecords() - before);
    }
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(CONNECTION_TURN_MS);
    expect(removeRecords() - recordsBefore).toBe(150);
    expect(outcomes).toEqual([{ outcome: queue.commit, suspended: false }]);
    expect([queue.stats().openTransactions, session.resumed]).toEqual([50, 1]);
    // The 50 newest are still open: they come back when the connection closes, the oldest of them first.
    session.close();
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(text(queue.remove(Date.now())!.data)).toBe("item-199");
    expect(queue.stats().items).toBe(100 - 1);
  });

  test("the connection closing between slices: the rest is confirmed all the same, and done never runs", async () => {
    const { ctx, queue, session } = setUp(letters(100), 100);
    let done = 0;
    confirmReadsInTurns(session, ctx, "q", 100, () => done++);
    expect(session.suspended).toBe(true);
    session.close();
    for (let turns = 0; queue.stats().openTransactions > 0; turns++) {
      expect(turns).toBeLessThan(1000);
      await nextTurn();
    }
    expect([done, queue.stats().items]).toEqual([0, 0]);
  });

  test("items whose open_transaction_timeout comes between slices are confirmed, not put back: the reply says all were", async () => {
    const timer = new TestTimer();
    const config = { ...DEFAULT_QUEUE_CONFIG, journal: false, openTransactionTimeout: 1000 };
    const queue = new PersistentQueue("q", config, null, { items: [], disk: null, nextId: 1 }, { expired: () => null }, timer);
    // confirmReadsInTurns looks the queue up in the context, and nothing else of it.
    const ctx = { queues: { get: (name: string) => (name === "q" ? queue : undefined) } } as unknown as ServerContext;
    for (const item of letters(100)) queue.add(bytes(item), 0, Date.now());
    const session = new FakeSession();
    for (let i = 0; i < 100; i++) {
      const item = queue.open(Date.now())!;
      queue.delivered(item); // its reply went out: its timeout counts
      session.openReads.add(queue, item);
    }
    const outcomes: ConfirmOutcome[] = [];
    confirmReadsInTurns(session, ctx, "q", 100, (outcome) => outcomes.push(outcome));
    expect(session.suspended).toBe(true);
    timer.advance(1000); // every item has been open for the timeout
    for (let turns = 0; outcomes.length === 0; turns++) {
      expect(turns).toBeLessThan(1000);
      await nextTurn();
      timer.advance(1);
    }
    expect(outcomes).toEqual([queue.commit]);
    expect(queue.stats()).toMatchObject({ items: 0, openTransactions: 0, openTransactionsTimedOut: 0 });
  });
});
