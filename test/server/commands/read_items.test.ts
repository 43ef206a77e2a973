/**
 * Blocked reads ended in crowds, on Connections over RecordingSockets with the stepped turns'
 * clock: one set waking 300 peeks, 300 waits timing out together, 5,000 waits ended by a delete
 * of their queue or by the server becoming quiescent. Each crowd is woken a slice a turn
 * (src/queue/wake_lane.ts, deadline_timer.ts), counted as waiters leaving the queue's line or as
 * clients answered, and every client gets its answer, once.
 */
import { expect, test } from "bun:test";
import { CHECK_EVERY, WAKE_SLICE_MS } from "../../../src/queue/wake_lane.ts";
import { FIRE_SLICE_MS } from "../../../src/queue/deadline_timer.ts";
import { Connection } from "../../../src/server/connection.ts";
import type { ServerContext } from "../../../src/server/context.ts";
import type { FrontEnd } from "../../../src/server/front_end.ts";
import { memcache } from "../../../src/server/memcache/front_end.ts";
import { text } from "../../../src/server/text/text_front_end.ts";
import { bytes } from "../../helpers/bytes.ts";
import { RecordingSocket } from "../../helpers/recording_socket.ts";
import { contextPerTest } from "../../helpers/server_context.ts";
import { nextTurn, steppedTurnClock } from "../../helpers/turn_clock.ts";

const context = contextPerTest();
// Every look at the turns' clock moves it 0.1 ms on: a slice is about 20 looks.
const clock = steppedTurnClock(0.1);
/** Waiters one turn may end: a look per CHECK_EVERY, and one more look's worth over (+1: sums of 0.1 fall a hair short). */
const PER_TURN = CHECK_EVERY * (Math.round(Math.max(WAKE_SLICE_MS, FIRE_SLICE_MS) / clock.step) + 2);
const CLIENTS = 3 * PER_TURN;

/** `count` connections speaking `frontEnd`, each sending `request` (in a turn of its own: time stands still meanwhile). */
function blockedClients<F>(ctx: ServerContext, request: string, count = CLIENTS, frontEnd: FrontEnd<F> = memcache as FrontEnd<unknown> as FrontEnd<F>): RecordingSocket[] {
  const step = clock.step;
  clock.step = 0;
  const sockets = Array.from({ length: count }, () => new RecordingSocket());
  for (const socket of sockets) new Connection(socket, ctx, frontEnd, 0, 1 << 20).onData(bytes(request));
  clock.step = step;
  return sockets;
}

/**
 * Turns until every socket has its answer, checking that each ended at most PER_TURN waits
 * (counted by `waiting`: the waiters of queue w unless given); how many turns. `maxTurns` guards
 * against a lane that stops (real time passes between the turns of deadlines, so their count
 * depends on the machine).
 */
async function turnsUntilAnswered(
  ctx: ServerContext,
  sockets: readonly RecordingSocket[],
  answer: string,
  maxTurns: number,
  waiting = () => ctx.queues.get("w")!.stats().waiters,
): Promise<number> {
  let turns = 0;
  for (let before = waiting(); sockets.some((socket) => socket.output !== answer); before = waiting()) {
    await nextTurn();
    turns++;
    expect(before - waiting()).toBeLessThanOrEqual(PER_TURN);
    expect(turns).toBeLessThan(maxTurns);
  }
  return turns;
}

test("one set wakes the clients blocked in a peek a slice a turn; each is answered the item, which stays", async () => {
  const ctx = context("journal = false\n");
  const queues = ctx.queues;
  const peekers = blockedClients(ctx, "get w/peek/t=60000\r\n");
  expect(queues.get("w")!.stats().waiters).toBe(CLIENTS);
  const setter = new RecordingSocket();
  new Connection(setter, ctx, memcache, 0, 1 << 20).onData(bytes("set w 0 0 1\r\nx\r\n"));
  expect(setter.output).toBe("STORED\r\n");
  expect(CLIENTS - queues.get("w")!.stats().waiters).toBeLessThanOrEqual(PER_TURN);

  const turns = await turnsUntilAnswered(ctx, peekers, "VALUE w/peek/t=60000 0 1\r\nx\r\nEND\r\n", 1000);
  expect(turns).toBeGreaterThanOrEqual(2);
  expect(queues.get("w")!.stats()).toMatchObject({ items: 1, waiters: 0 });
  expect(ctx.stats.getHits).toBe(CLIENTS);
});

test("clients whose waits end at the same moment are answered END, a slice of them a turn", async () => {
  const ctx = context("journal = false\n");
  const queues = ctx.queues;
  const sockets = blockedClients(ctx, "get w/t=1\r\n");
  expect(queues.get("w")!.stats().waiters).toBe(CLIENTS);
  while (queues.get("w")!.stats().waiters === CLIENTS) await nextTurn(); // until the deadlines' timer fires
  expect(CLIENTS - queues.get("w")!.stats().waiters).toBeLessThanOrEqual(PER_TURN);
  await turnsUntilAnswered(ctx, sockets, "END\r\n", 10_000_000);
  expect(ctx.stats.getMisses).toBe(CLIENTS);
});

test("a get of many keys is served over turns, other clients answered in between: every key's item, in order, then the next request", async () => {
  const ctx = context("journal = false\n");
  const names = Array.from({ length: 300 }, (_, i) => `k${String(i).padStart(3, "0")}`);
  for (const name of names) ctx.queues.add(name, bytes(name), 0, Date.now());
  const [reader, other] = [new RecordingSocket(), new RecordingSocket()];
  // One 8 KiB line names up to about 2,700 queues: served in one turn, that was 30-75 ms.
  new Connection(reader, ctx, memcache, 0, 1 << 20).onData(bytes(`get ${names.join(" ")}\r\nversion\r\n`));
  new Connection(other, ctx, memcache, 0, 1 << 20).onData(bytes("version\r\n"));
  while (!other.output.includes("VERSION")) await nextTurn();
  expect(reader.output).not.toContain("END\r\n");

  while (!reader.output.endsWith("VERSION test\r\n")) await nextTurn();
  expect(reader.output).toBe(`${names.map((name) => `VALUE ${name} 0 4\r\n${name}\r\n`).join("")}END\r\nVERSION test\r\n`);
  expect(names.every((name) => ctx.queues.get(name)!.stats().items === 0)).toBe(true);
});

test("a delete of a queue 5,000 clients wait on (half of them /open) answers them END a slice a turn, each once; nothing stays open, and the queue made again is another's", async () => {
  const ctx = context("journal = false\n");
  const WAITERS = 5000;
  const sockets = [...blockedClients(ctx, "get w/t=60000\r\n", WAITERS / 2), ...blockedClients(ctx, "get w/open/t=60000\r\n", WAITERS / 2)];
  const old = ctx.queues.get("w")!;
  expect(old.stats().waiters).toBe(WAITERS);
  // In the delete's turn: the delete, a newcomer's wait on the queue it makes again, and a set to it.
  const [admin, newcomer] = [new RecordingSocket(), new RecordingSocket()];
  const adminConnection = new Connection(admin, ctx, memcache, 0, 1 << 20);
  adminConnection.onData(bytes("delete w\r\n"));
  new Connection(newcomer, ctx, memcache, 0, 1 << 20).onData(bytes("get w/open/t=60000\r\n"));
  adminConnection.onData(bytes("set w 0 0 3\r\nnew\r\n"));
  // Before the release went over turns, all 5,000 waits ended in this turn.
  expect(WAITERS - old.stats().waiters).toBeLessThanOrEqual(PER_TURN);

  await turnsUntilAnswered(ctx, sockets, "END\r\n", 1000, () => old.stats().waiters);
  for (let turn = 0; turn < 3; turn++) await nextTurn();
  expect(sockets.filter((socket) => socket.output !== "END\r\n")).toEqual([]);
  expect(newcomer.output).toBe("VALUE w/open/t=60000 0 3\r\nnew\r\nEND\r\n");
  expect(admin.output).toBe("DELETED\r\nSTORED\r\n");
  expect(old.stats()).toMatchObject({ items: 0, waiters: 0, openTransactions: 0 });
  expect(ctx.queues.get("w")!.stats()).toMatchObject({ items: 0, waiters: 0, openTransactions: 1 });
  expect(ctx.stats.getMisses).toBe(WAITERS);
  // An /open client holds nothing: a plain get is not refused, and its reliable read opens the next item.
  const reader = sockets[WAITERS - 1]!;
  const readerConnection = new Connection(reader, ctx, memcache, 0, 1 << 20);
  expect(ctx.queues.add("w", bytes("two"), 0, Date.now())).toBe(ctx.queues.get("w")!.commit);
  readerConnection.onData(bytes("get w/open\r\n"));
  expect(reader.output).toBe("END\r\nVALUE w/open 0 3\r\ntwo\r\nEND\r\n");
});

test("text: a delete of a queue clients wait on answers each its empty reply, a slice a turn", async () => {
  const ctx = context("journal = false\n");
  const sockets = blockedClients(ctx, "get w 60000\n", CLIENTS, text);
  const old = ctx.queues.get("w")!;
  expect(old.stats().waiters).toBe(CLIENTS);
  new Connection(new RecordingSocket(), ctx, text, 0, 1 << 20).onData(bytes("delete w\n"));
  expect(CLIENTS - old.stats().waiters).toBeLessThanOrEqual(PER_TURN);
  await turnsUntilAnswered(ctx, sockets, "*\n", 1000, () => old.stats().waiters);
  for (let turn = 0; turn < 3; turn++) await nextTurn();
  expect(sockets.filter((socket) => socket.output !== "*\n")).toEqual([]);
});

test("the server becoming quiescent answers 5,000 waiting clients its refusal a slice a turn, each once", async () => {
  const ctx = context("journal = false\n");
  const WAITERS = 5000;
  const sockets = blockedClients(ctx, "get w/open/t=60000\r\n", WAITERS);
  const admin = new RecordingSocket();
  new Connection(admin, ctx, memcache, 0, 1 << 20).onData(bytes("status quiescent\r\n"));
  expect(admin.output).toBe("END\r\n");
  expect(WAITERS - ctx.queues.get("w")!.stats().waiters).toBeLessThanOrEqual(PER_TURN);
  const refusal = "SERVER_ERROR server is quiescent: gets are refused\r\n";
  await turnsUntilAnswered(ctx, sockets, refusal, 1000);
  for (let turn = 0; turn < 3; turn++) await nextTurn();
  expect(sockets.filter((socket) => socket.output !== refusal)).toEqual([]);
  expect(ctx.queues.get("w")!.stats()).toMatchObject({ waiters: 0, openTransactions: 0 });
});

test("a get of many keys going on over turns when the server stops (its waits released, the connection told to quit): a blocking key after that waits no more, the reply ends END", async () => {
  const ctx = context("journal = false\n");
  const names = Array.from({ length: 300 }, (_, i) => `k${String(i).padStart(3, "0")}`);
  for (const name of names) ctx.queues.add(name, bytes(name), 0, Date.now());
  const reader = new RecordingSocket();
  const connection = new Connection(reader, ctx, memcache, 0, 1 << 20);
  connection.onData(bytes(`get ${names.join(" ")} w/t=60000\r\n`));
  expect(reader.output).toBe("");
  // What KestrelServer's stop does first: every blocking get ends, every connection is asked to quit.
  ctx.queues.releaseWaiters();
  connection.quit();
  for (let turns = 0; !reader.output.endsWith("END\r\n"); turns++) {
    expect(turns).toBeLessThan(1000);
    await nextTurn();
  }
  expect(reader.output).toBe(`${names.map((name) => `VALUE ${name} 0 4\r\n${name}\r\n`).join("")}END\r\n`);
  expect(ctx.queues.get("w")!.stats().waiters).toBe(0);
});
