import { describe, expect, test } from "bun:test";
import { flushExpiredInTurns } from "../../../src/server/commands/queue_commands.ts";
import { FakeSession } from "../../helpers/fake_session.ts";
import { contextPerTest } from "../../helpers/server_context.ts";
import { nextTurn as turn, steppedTurnClock } from "../../helpers/turn_clock.ts";

const NOW = 1_795_000_000_000;
const context = contextPerTest();

/** Fills queue `name` with `count` one-byte items, every `expiredEvery`th expiring at NOW + 10. */
function fill(ctx: ReturnType<typeof context>, name: string, count: number, expiredEvery: number) {
  const queue = ctx.queues.getOrCreate(name);
  for (let i = 0; i < count; i++) queue.add(Uint8Array.of(i & 0xff), i % expiredEvery === 0 ? NOW + 10 : 0, NOW);
  return queue;
}

test("flush_expired goes a part a turn with the session suspended, then answers the count; the rest stay in order", async () => {
  const ctx = context();
  const queue = fill(ctx, "q", 30_000, 3);
  const session = new FakeSession();
  let answer: number | null = null;
  let turns = 0;
  flushExpiredInTurns([queue], NOW + 20, session, (removed) => (answer = removed), 0);
  while (answer === null) {
    expect(session.suspended).toBe(true);
    await turn();
    turns++;
  }
  expect([answer, session.suspended, session.resumed]).toEqual([10_000, false, 1]);
  expect(turns).toBeGreaterThan(5);
  expect(queue.stats().items).toBe(20_000);
  const left: number[] = [];
  for (let item = queue.remove(NOW + 20); item !== undefined; item = queue.remove(NOW + 20)) left.push(item.data[0]!);
  expect(left).toEqual(Array.from({ length: 30_000 }, (_, i) => i).filter((i) => i % 3 !== 0).map((i) => i & 0xff));
});

test("flush_all_expired goes over every queue the same way and answers the total; a queue deleted meanwhile is skipped", async () => {
  const ctx = context();
  const queues = ["a", "b", "c"].map((name) => fill(ctx, name, 5_000, 2));
  const session = new FakeSession();
  let answer: number | null = null;
  flushExpiredInTurns(queues, NOW + 20, session, (removed) => (answer = removed), 0);
  ctx.queues.delete("c");
  while (answer === null) await turn();
  expect(answer as number | null).toBe(5_000);
  expect(queues.slice(0, 2).map((queue) => queue.stats().items)).toEqual([2_500, 2_500]);
});

test("a connection that leaves stops the flush; what was removed stays removed", async () => {
  const ctx = context();
  const queue = fill(ctx, "q", 30_000, 1);
  const session = new FakeSession();
  let answered = false;
  flushExpiredInTurns([queue], NOW + 20, session, () => (answered = true), 0);
  await turn();
  session.close();
  const left = queue.stats().items;
  for (let i = 0; i < 10; i++) await turn();
  expect(answered).toBe(false);
  expect(left).toBeGreaterThan(0);
  expect(left).toBeLessThan(30_000);
  expect(queue.stats().items).toBe(left);
});

describe("many flushes at once", () => {
  steppedTurnClock(1);

  test("flush_expired of many connections at once share each turn's budget instead of running a slice each", async () => {
    // Each ran its own 2 ms slice every turn: 50 clients pipelining flush_all_expired over 1M
    // items made every turn 100 ms and more (a ping waited 520 ms, a set and get 435 ms at median).
    const ctx = context();
    const queues = Array.from({ length: 10 }, (_, i) => fill(ctx, `q${i}`, 30_000, 1));
    let answered = 0;
    for (const queue of queues) flushExpiredInTurns([queue], NOW + 20, new FakeSession(), () => answered++);
    for (let t = 0; t < 5; t++) {
      const before = queues.map((queue) => queue.stats().items);
      await turn();
      const ran = queues.filter((queue, i) => queue.stats().items !== before[i]).length;
      expect(ran).toBeGreaterThan(0);
      expect(ran).toBeLessThanOrEqual(5);
    }
    while (answered < queues.length) await turn();
    expect(queues.map((queue) => queue.stats().items)).toEqual(queues.map(() => 0));
  });
});
