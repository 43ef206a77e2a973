import { expect, test } from "bun:test";
import type { Commit } from "../../../src/journal/commit.ts";
import { setItemsInTurns, type SetItemsOutcome } from "../../../src/server/commands/set_in_turns.ts";
import { bytes, text } from "../../helpers/bytes.ts";
import { FakeSession } from "../../helpers/fake_session.ts";
import { contextPerTest } from "../../helpers/server_context.ts";
import { nextTurn, steppedTurnClock } from "../../helpers/turn_clock.ts";

const context = contextPerTest();
// Every look at the turns' clock moves it 1 ms on: a slice adds a few items whatever the machine.
const clock = steppedTurnClock(1);

const items = (count: number) => Array.from({ length: count }, (_, i) => bytes(`item-${i}`));

test("many items are added over turns with the session suspended, holding the bytes not yet added; done runs once, then it resumes", async () => {
  const ctx = context();
  const session = new FakeSession();
  const put = items(100);
  const outcomes: Array<SetItemsOutcome & { suspended: boolean }> = [];
  setItemsInTurns(ctx, session, "q", put, 0, Date.now(), (outcome) => outcomes.push({ ...outcome, suspended: session.suspended }));
  const added = ctx.queues.get("q")!.stats().items;
  expect([session.suspended, outcomes.length, added > 0 && added < 100]).toEqual([true, 0, true]);
  expect(session.heldBytes).toBe(put.slice(added).reduce((sum, item) => sum + item.length, 0));
  let turns = 0;
  for (; outcomes.length === 0; turns++) await nextTurn();
  expect(turns).toBeGreaterThan(5);
  expect(outcomes.map(({ stored, failure, suspended }) => [stored.length, failure, suspended])).toEqual([[100, null, true]]);
  expect([session.suspended, session.resumed]).toEqual([false, 1]);
  const queue = ctx.queues.get("q")!;
  expect(Array.from({ length: 100 }, () => text(queue.remove(Date.now())!.data)[0])).toEqual(put.map((item) => text(item)[0]));
});

test("a few items are added before it returns, without suspending", () => {
  clock.step = 0; // time stands still: every item fits in the first slice
  const ctx = context();
  const session = new FakeSession();
  let stored: readonly Commit[] = [];
  setItemsInTurns(ctx, session, "q", items(3), 0, Date.now(), (outcome) => (stored = outcome.stored));
  expect([stored.length, session.suspended, ctx.queues.get("q")!.stats().items]).toEqual([3, false, 3]);
});

test("a connection that leaves stops the adding; what was added stays, and done never runs", async () => {
  const ctx = context();
  const session = new FakeSession();
  let done = 0;
  setItemsInTurns(ctx, session, "q", items(100), 0, Date.now(), () => done++);
  session.close();
  const added = ctx.queues.get("q")!.stats().items;
  for (let i = 0; i < 20; i++) await nextTurn();
  expect([done, ctx.queues.get("q")!.stats().items]).toEqual([0, added]);
  expect(added).toBeLessThan(100);
});

test("a failure stops the adding at the item that met it", () => {
  clock.step = 0; // time stands still: every item fits in the first slice
  const ctx = context();
  const session = new FakeSession();
  let outcome: SetItemsOutcome | null = null;
  setItemsInTurns(ctx, session, "bad name", items(3), 0, Date.now(), (result) => (outcome = result));
  expect(outcome!.stored.length).toBe(0);
  expect(outcome!.failure?.reason).toBe("bad queue name 'bad name'");
  expect(ctx.stats.cmdSet).toBe(1);
});
