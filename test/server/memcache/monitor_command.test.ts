/**
 * `monitor` and `confirm` of many items on the memcache port, on a Connection over a
 * RecordingSocket: opened and confirmed a slice per round (commands/monitor.ts, confirm.ts), a
 * round doing at most the connection's budget of them, another connection answered between
 * rounds, and the replies in request order.
 */
import { expect, test } from "bun:test";
import { ID_RECORD_SIZE } from "../../../src/journal/record.ts";
import { Connection } from "../../../src/server/connection.ts";
import { memcache } from "../../../src/server/memcache/front_end.ts";
import { CONNECTION_TURN_MS } from "../../../src/server/turn_scheduler.ts";
import { bytes } from "../../helpers/bytes.ts";
import { RecordingSocket } from "../../helpers/recording_socket.ts";
import { contextPerTest } from "../../helpers/server_context.ts";
import { nextTurn, steppedTurnClock } from "../../helpers/turn_clock.ts";

const context = contextPerTest();
// Every look at the turns' clock moves it 0.1 ms on: an item costs at least that, whatever the machine.
const clock = steppedTurnClock(0.1);
const ITEMS = 2000;

test("a monitor of 2,000 items and a confirm of them run over rounds, a budget's worth a round, with the replies in order", async () => {
  const ctx = context(`max_open_transactions = ${ITEMS}\n`);
  for (let i = 0; i < ITEMS; i++) ctx.queues.add("q", bytes(`item-${i}`), 0, Date.now());
  const queue = ctx.queues.get("q")!;
  const socket = new RecordingSocket();
  new Connection(socket, ctx, memcache, 0, 1 << 20).onData(bytes(`monitor q 30 ${ITEMS}\r\nconfirm q ${ITEMS}\r\nversion\r\n`));
  // (+1: the stepped readings are sums of 0.1, a hair short of the deadline after 40 steps.)
  const perRound = Math.round(CONNECTION_TURN_MS / clock.step) + 1;
  let rounds = 0;
  let answeredMidway = 0;
  for (; !socket.output.endsWith("VERSION test\r\n"); rounds++) {
    expect(rounds).toBeLessThan(10_000);
    const before = queue.stats();
    const ping = new RecordingSocket();
    new Connection(ping, ctx, memcache, 0, 1 << 20).onData(bytes("version\r\n"));
    expect(ping.output).toBe("VERSION test\r\n");
    if (before.openTransactions > 0 && before.openTransactions < ITEMS) answeredMidway++;
    await nextTurn();
    const after = queue.stats();
    // Opened (items left the queue) or confirmed (a REMOVE record each, besides an OPEN record per
    // item opened): at most a round's budget.
    const opened = before.items - after.items;
    expect(opened).toBeLessThanOrEqual(perRound);
    expect((after.logsize - before.logsize) / ID_RECORD_SIZE - opened).toBeLessThanOrEqual(perRound);
  }
  const values = Array.from({ length: ITEMS }, (_, i) => `VALUE q 0 ${`item-${i}`.length}\r\nitem-${i}\r\n`).join("");
  expect(socket.output).toBe(`${values}END\r\nEND\r\nVERSION test\r\n`);
  expect(rounds).toBeGreaterThan((2 * ITEMS) / perRound - 2);
  expect(answeredMidway).toBeGreaterThan(ITEMS / perRound / 2);
  expect(queue.stats()).toMatchObject({ items: 0, openTransactions: 0 });
});

test("a monitor going on over rounds when the server stops (its waits ended, the connection asked to quit) opens no more and ends its reply, rather than wait for items", async () => {
  const ctx = context(`max_open_transactions = ${ITEMS + 1}\n`);
  for (let i = 0; i < ITEMS; i++) ctx.queues.add("q", bytes(`item-${i}`), 0, Date.now());
  const queue = ctx.queues.get("q")!;
  const socket = new RecordingSocket();
  const connection = new Connection(socket, ctx, memcache, 0, 1 << 20);
  // One item more than the queue holds: once they are all open it would wait for the next, 30 s.
  connection.onData(bytes(`monitor q 30 ${ITEMS + 1}\r\n`));
  expect(queue.stats().openTransactions).toBeLessThan(ITEMS);
  // What KestrelServer's stop does first: every blocking get ends, every connection is asked to quit.
  ctx.queues.releaseWaiters();
  connection.quit();
  for (let turns = 0; !socket.output.endsWith("END\r\n"); turns++) {
    expect(turns).toBeLessThan(1000);
    await nextTurn();
  }
  expect(queue.stats().waiters).toBe(0);
  expect(queue.stats().openTransactions).toBeLessThan(ITEMS);
});
