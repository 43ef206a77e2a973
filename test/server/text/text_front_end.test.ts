/**
 * The text front end on a Connection over a RecordingSocket: a `put` of many items is added over
 * rounds with the connection waiting (set_in_turns.ts), its weight (turn_scheduler.ts), a
 * long item line copied into place over rounds (text_parser.ts), and a big monitor and the
 * confirms of the fetch after it made over rounds (commands/monitor.ts, commands/confirm.ts).
 */
import { beforeEach, expect, test } from "bun:test";
import type { QueueCollection } from "../../../src/queue/queue_collection.ts";
import { ID_RECORD_SIZE } from "../../../src/journal/record.ts";
import { Connection } from "../../../src/server/connection.ts";
import type { ServerContext } from "../../../src/server/context.ts";
import { LIGHT_PUT_ITEMS, text } from "../../../src/server/text/text_front_end.ts";
import { CONNECTION_TURN_MS, turnDeadline } from "../../../src/server/turn_scheduler.ts";
import { bytes } from "../../helpers/bytes.ts";
import { RecordingSocket } from "../../helpers/recording_socket.ts";
import { contextPerTest } from "../../helpers/server_context.ts";
import { nextTurn, steppedTurnClock } from "../../helpers/turn_clock.ts";

const context = contextPerTest();
// Every look at the turns' clock moves it 0.1 ms on: an item costs about that, whatever the machine.
const clock = steppedTurnClock(0.1);
let ctx: ServerContext;
let queues: QueueCollection;

beforeEach(() => {
  ctx = context();
  queues = ctx.queues;
});

const connect = (maxRequestSize = 1 << 20) => {
  const socket = new RecordingSocket();
  return { socket, connection: new Connection(socket, ctx, text, 0, maxRequestSize) };
};
const putOf = (queue: string, count: number) => `put ${queue}:\n${Array.from({ length: count }, (_, i) => `item-${i}`).join("\n")}\n\n`;

test("a put of 1024 items to a fanout parent is added over rounds: another connection is answered between them, and the put's reply and the next request's follow in order", async () => {
  for (let child = 0; child < 5; child++) queues.getOrCreate(`fan+c${child}`);
  const putter = connect();
  putter.connection.onData(bytes(`${putOf("fan", 1024)}peek fan+c4\n`));
  const added = () => queues.get("fan")?.stats().items ?? 0;
  let answeredMidway = 0;
  let rounds = 0;
  for (; !putter.socket.output.includes("\n:"); rounds++) {
    expect(rounds).toBeLessThan(10_000);
    const before = added();
    const ping = connect();
    ping.connection.onData(bytes("version\n"));
    expect(ping.socket.output).toBe(":test\n");
    if (before > 0 && before < 1024 && added() === before) answeredMidway++;
    await nextTurn();
  }
  expect(putter.socket.output).toBe("+1024\n:item-0\n");
  expect(answeredMidway).toBeGreaterThan(5);
  expect(rounds).toBeGreaterThan(5);
  expect(queues.get("fan+c4")!.stats().items).toBe(1024);
});

test("while a put's items are added over rounds, those not yet added count as its connection's request bytes", async () => {
  const putter = connect();
  putter.connection.onData(bytes(putOf("held", 1024)));
  const itemBytes = (from: number) => Array.from({ length: 1024 - from }, (_, i) => `item-${i + from}`.length).reduce((a, b) => a + b, 0);
  const added = () => queues.get("held")?.stats().items ?? 0;
  let midway = 0;
  for (; putter.socket.output === ""; await nextTurn()) {
    if (added() === 1024) continue; // all added: the reply waits for the journal
    expect(ctx.requestBudget.bytes).toBeGreaterThanOrEqual(itemBytes(added()));
    if (added() > 0) midway++;
  }
  expect(midway).toBeGreaterThan(0);
  expect(putter.socket.output).toBe("+1024\n");
  expect(ctx.requestBudget.bytes).toBe(0);
});

test("once the turn's budget is spent, a put of many items waits for its connection's round; a put of a few runs at once", async () => {
  clock.time = turnDeadline(); // the rest of this turn goes to other work
  const heavy = connect();
  heavy.connection.onData(bytes(putOf("heavy", LIGHT_PUT_ITEMS + 1)));
  expect(queues.get("heavy")).toBeUndefined(); // not one item added in this turn
  const light = connect();
  light.connection.onData(bytes(putOf("light", LIGHT_PUT_ITEMS)));
  expect(queues.get("light")!.stats().items).toBeGreaterThan(0);
  while (heavy.socket.output === "" || light.socket.output === "") await nextTurn();
  expect([heavy.socket.output, light.socket.output]).toEqual([`+${LIGHT_PUT_ITEMS + 1}\n`, `+${LIGHT_PUT_ITEMS}\n`]);
});

test("a put of one 3 MiB item, sent in 64 KiB chunks, is copied into place over rounds, then stored and answered", async () => {
  const putter = connect(8 << 20);
  const stream = bytes(`put long:\n${"x".repeat(3 << 20)}\n\nversion\n`);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < stream.length; at += 64 * 1024) chunks.push(stream.slice(at, at + 64 * 1024));
  for (const chunk of chunks.slice(0, -1)) putter.connection.onData(chunk);
  clock.step = 0; // the last chunk comes while time stands still: the turn's budget is not spent
  putter.connection.onData(chunks[chunks.length - 1]!);
  expect(queues.get("long")).toBeUndefined(); // the line is not all copied yet
  clock.step = 0.1;
  let rounds = 0;
  for (; putter.socket.output === ""; rounds++) await nextTurn();
  expect(rounds).toBeGreaterThan(1);
  expect(putter.socket.output).toBe("+1\n:test\n");
  expect(queues.get("long")!.stats().bytes).toBe(3 << 20);
});

test("a monitor of 2,000 items, and the get after it that confirms them all, run over rounds, a budget's worth a round, with the replies in order", async () => {
  const items = 2000;
  const local = context(`max_open_transactions = ${items}\n`);
  for (let i = 0; i <= items; i++) local.queues.add("q", bytes(`item-${i}`), 0, Date.now());
  const queue = local.queues.get("q")!;
  const socket = new RecordingSocket();
  new Connection(socket, local, text, 0, 1 << 20).onData(bytes("monitor q 60000\nget q\nversion\n"));
  // (+1: the stepped readings are sums of 0.1, a hair short of the deadline after 40 steps.)
  const perRound = Math.round(CONNECTION_TURN_MS / clock.step) + 1;
  let rounds = 0;
  for (; !socket.output.endsWith(":test\n"); rounds++) {
    expect(rounds).toBeLessThan(10_000);
    const before = queue.stats();
    const ping = new RecordingSocket();
    new Connection(ping, local, text, 0, 1 << 20).onData(bytes("version\n"));
    expect(ping.output).toBe(":test\n");
    await nextTurn();
    const after = queue.stats();
    // Opened (items left the queue) or confirmed (a REMOVE record each, besides an OPEN record per
    // item opened): at most a round's budget.
    const opened = before.items - after.items;
    expect(opened).toBeLessThanOrEqual(perRound);
    expect((after.logsize - before.logsize) / ID_RECORD_SIZE - opened).toBeLessThanOrEqual(perRound);
  }
  const monitored = Array.from({ length: items }, (_, i) => `:item-${i}\n`).join("");
  expect(socket.output).toBe(`${monitored}*\n:item-${items}\n:test\n`);
  expect(rounds).toBeGreaterThan((2 * items) / perRound - 2);
  expect(queue.stats()).toMatchObject({ items: 0, openTransactions: 1 });
});
