import { expect, test } from "bun:test";
import { createInTurns } from "../../../src/server/commands/create_in_turns.ts";
import { handleGet } from "../../../src/server/memcache/get_command.ts";
import { FakeSession } from "../../helpers/fake_session.ts";
import { contextPerTest } from "../../helpers/server_context.ts";
import { nextTurn } from "../../helpers/turn_clock.ts";

const context = contextPerTest();

test("queues are made over turns with the session suspended, then the rest runs; a bad name is left to it", async () => {
  const ctx = context();
  const session = new FakeSession();
  const names = ["a", "b", "bad name", "c"];
  let ran = 0;
  // No time per slice: one queue a turn.
  createInTurns(names, session, ctx, () => ran++, 0);
  // "a" is made at once, or in the next turn if this one's budget is spent; "b" in a later turn.
  expect([session.suspended, ran, ctx.queues.get("b")]).toEqual([true, 0, undefined]);
  while (ran === 0) await nextTurn();
  expect([session.suspended, session.resumed, ran]).toEqual([false, 1, 1]);
  expect(["a", "b", "c"].every((name) => ctx.queues.get(name) !== undefined)).toBe(true);
});

test("a connection that leaves stops the making; what was made stays", async () => {
  const ctx = context();
  const session = new FakeSession();
  let ran = 0;
  createInTurns(["a", "b", "c"], session, ctx, () => ran++, 0);
  // One queue a turn: "a" is made in this turn (or in the next, if this one's budget is spent).
  await nextTurn();
  session.close();
  for (let i = 0; i < 10; i++) await nextTurn();
  expect([ran, ctx.queues.get("a") !== undefined, ctx.queues.get("c")]).toEqual([0, true, undefined]);
});

test("a get naming 30 new fanout children makes them, then answers END for each, in one reply", async () => {
  const ctx = context();
  ctx.queues.getOrCreate("parent");
  const session = new FakeSession();
  const children = Array.from({ length: 30 }, (_, i) => `parent+c${i}`);
  handleGet(children, session, ctx, false);
  while (session.suspended) await nextTurn();
  session.outbox.flush();
  expect(session.socket.output).toBe("END\r\n");
  expect(ctx.queues.childrenOf("parent")).toEqual([...children].sort());
  expect(ctx.stats.getMisses).toBe(30);
});
