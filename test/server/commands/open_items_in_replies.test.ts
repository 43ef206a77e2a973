/**
 * An item opened for a reply that has not reached its client yet is not timed out
 * (open_transaction_timeout) meanwhile: were it put back and opened by another client, the first
 * client's reply would still carry it, and the item would be handed out twice. Each route a reply
 * can be held up by is tried on Connections over RecordingSockets, with the open items' timer on
 * a clock the test moves (TestTimer): a get of many keys served over turns, a wait on a later key,
 * a journal commit (the reply's own, or one a reply before it waits for), a socket that takes
 * nothing (the client doesn't read), the text protocol's reads and `monitor` in both protocols.
 * Each checks that the other client gets nothing while the first one's reply is on its way, that
 * the first one gets the item, and that the timeout still works once the reply has gone out,
 * counted from then: the item goes back, and the first client's late `close` confirms nothing (the
 * item open by the other client stays open).
 */
import { expect, test } from "bun:test";
import { Connection } from "../../../src/server/connection.ts";
import type { ServerContext } from "../../../src/server/context.ts";
import type { FrontEnd } from "../../../src/server/front_end.ts";
import { memcache } from "../../../src/server/memcache/front_end.ts";
import { text as textProtocol } from "../../../src/server/text/text_front_end.ts";
import { bytes } from "../../helpers/bytes.ts";
import { RecordingSocket } from "../../helpers/recording_socket.ts";
import { contextPerTest } from "../../helpers/server_context.ts";
import { TestTimer } from "../../helpers/test_timer.ts";
import { nextTurn, steppedTurnClock } from "../../helpers/turn_clock.ts";

const TIMEOUT_MS = 1000;
const context = contextPerTest();
// Time stands still for the turns' clock unless a test steps it.
const clock = steppedTurnClock(0);

interface Client {
  readonly socket: RecordingSocket;
  readonly connection: Connection<unknown>;
  send(request: string): void;
}

function connect(ctx: ServerContext, frontEnd: FrontEnd<unknown> = memcache as FrontEnd<unknown>): Client {
  const socket = new RecordingSocket();
  const connection = new Connection(socket, ctx, frontEnd, 0, 1 << 20);
  return { socket, connection, send: (request) => connection.onData(bytes(request)) };
}

/** A server whose queues time open items out after TIMEOUT_MS on `timer`'s clock; `q` holds `a`. */
function setUp(config = "journal = false\n") {
  const timer = new TestTimer();
  const ctx = context(`open_transaction_timeout = ${TIMEOUT_MS}\n${config}`, timer);
  ctx.queues.add("q", bytes("a"), 0, Date.now());
  return { ctx, timer, q: () => ctx.queues.get("q")! };
}

async function turnsUntil(done: () => boolean): Promise<void> {
  for (let turns = 0; !done(); turns++) {
    expect(turns).toBeLessThan(1000);
    await nextTurn();
  }
}

/**
 * `first` holds `a` open, its reply delivered: once the timeout passes (counted from the delivery)
 * `a` goes back and `second` opens it; `first`'s late close confirms nothing, `second`'s does.
 */
async function timesOutOnceDelivered(ctx: ServerContext, timer: TestTimer, first: Client): Promise<void> {
  const q = ctx.queues.get("q")!;
  const second = connect(ctx);
  timer.advance(TIMEOUT_MS - 1);
  expect(q.stats()).toMatchObject({ openTransactions: 1, openTransactionsTimedOut: 0 });
  timer.advance(1);
  expect(q.stats()).toMatchObject({ items: 1, openTransactions: 0, openTransactionsTimedOut: 1 });
  second.send("get q/open\r\n");
  await turnsUntil(() => second.socket.output !== "");
  expect(second.socket.output).toBe("VALUE q/open 0 1\r\na\r\nEND\r\n");
  const before = first.socket.output.length;
  first.send("get q/close\r\n");
  await turnsUntil(() => first.socket.output.length > before);
  expect(first.socket.output.slice(before)).toBe("END\r\n");
  expect(q.stats()).toMatchObject({ items: 0, openTransactions: 1 });
  second.send("get q/close\r\n");
  await turnsUntil(() => second.socket.output.endsWith("END\r\nEND\r\n"));
  expect(q.stats()).toMatchObject({ items: 0, openTransactions: 0 });
}

/** While `first`'s reply is held up, the timeout passes: nobody else may open `a` (a second client gets nothing). */
async function othersGetNothing(ctx: ServerContext, timer: TestTimer): Promise<Client> {
  timer.advance(10 * TIMEOUT_MS);
  const other = connect(ctx);
  other.send("get q/open\r\n");
  await turnsUntil(() => other.socket.output !== "");
  expect(other.socket.output).toBe("END\r\n");
  expect(ctx.queues.get("q")!.stats()).toMatchObject({ items: 0, openTransactions: 1, openTransactionsTimedOut: 0 });
  return other;
}

test("a get of many keys served over turns: its item opened in the first slice is not timed out before the reply", async () => {
  const { ctx, timer } = setUp();
  const first = connect(ctx);
  // Every look at the turns' clock takes longer than a connection's share of the turn: one key a slice.
  clock.step = 10;
  first.send("get q/open e1 e2 e3\r\n");
  clock.step = 0;
  expect(first.socket.output).toBe("");
  await othersGetNothing(ctx, timer);
  await turnsUntil(() => first.socket.output !== "");
  expect(first.socket.output).toBe("VALUE q/open 0 1\r\na\r\nEND\r\n");
  await timesOutOnceDelivered(ctx, timer, first);
});

test("a get waiting on a later key: the item it opened on an earlier key is not timed out during the wait", async () => {
  const { ctx, timer } = setUp();
  const first = connect(ctx);
  first.send("get q/open w/t=60000\r\n");
  expect(first.socket.output).toBe("");
  await othersGetNothing(ctx, timer);
  ctx.queues.add("w", bytes("x"), 0, Date.now());
  await turnsUntil(() => first.socket.output !== "");
  expect(first.socket.output).toBe("VALUE q/open 0 1\r\na\r\nVALUE w/t=60000 0 1\r\nx\r\nEND\r\n");
  await timesOutOnceDelivered(ctx, timer, first);
});

test("a reply waiting for its open record's journal write: the item is not timed out before the write", async () => {
  const { ctx, timer } = setUp("journal = true\n");
  const first = connect(ctx);
  first.send("get q/open\r\n");
  // The open record is written at the end of the turn: the reply waits for it.
  expect(first.socket.output).toBe("");
  await othersGetNothing(ctx, timer);
  await turnsUntil(() => first.socket.output !== "");
  expect(first.socket.output).toBe("VALUE q/open 0 1\r\na\r\nEND\r\n");
  await timesOutOnceDelivered(ctx, timer, first);
});

test("a reply queued behind a STORED waiting for its journal write: the item is not timed out before the reply goes", async () => {
  const { ctx, timer } = setUp("journal = false\n[queues.j]\njournal = true\n");
  const first = connect(ctx);
  first.send("set j 0 0 1\r\nx\r\nget q/open\r\n");
  expect(first.socket.output).toBe("");
  await othersGetNothing(ctx, timer);
  await turnsUntil(() => first.socket.output !== "");
  expect(first.socket.output).toBe("STORED\r\nVALUE q/open 0 1\r\na\r\nEND\r\n");
  await timesOutOnceDelivered(ctx, timer, first);
});

test("a reply the socket doesn't take (the client doesn't read): the item is not timed out until it is written", async () => {
  const { ctx, timer } = setUp();
  const first = connect(ctx);
  first.socket.room = 5; // "VALUE" of the reply, not the item
  first.send("get q/open\r\n");
  expect(first.socket.output).toBe("VALUE");
  await othersGetNothing(ctx, timer);
  first.socket.room = Infinity;
  first.connection.onDrain();
  expect(first.socket.output).toBe("VALUE q/open 0 1\r\na\r\nEND\r\n");
  await timesOutOnceDelivered(ctx, timer, first);
});

test("the text protocol's get: an item in a reply the socket doesn't take is not timed out", async () => {
  const { ctx, timer } = setUp();
  const first = connect(ctx, textProtocol as FrontEnd<unknown>);
  first.socket.room = 0;
  first.send("get q\n");
  expect(first.socket.output).toBe("");
  await othersGetNothing(ctx, timer);
  first.socket.room = Infinity;
  first.connection.onDrain();
  expect(first.socket.output).toBe(":a\n");
  // Once delivered, it times out as ever; the text client's next fetch confirms nothing then.
  timer.advance(TIMEOUT_MS);
  const q = ctx.queues.get("q")!;
  expect(q.stats()).toMatchObject({ items: 1, openTransactions: 0, openTransactionsTimedOut: 1 });
  const second = connect(ctx);
  second.send("get q/open\r\n");
  expect(second.socket.output).toBe("VALUE q/open 0 1\r\na\r\nEND\r\n");
  first.send("get q\n");
  await turnsUntil(() => first.socket.output.length > 3);
  expect(first.socket.output).toBe(":a\n*\n");
  expect(q.stats()).toMatchObject({ items: 0, openTransactions: 1 });
});

test("the text protocol's get waiting for its journal write: the item is not timed out before it", async () => {
  const { ctx, timer } = setUp("journal = true\n");
  const first = connect(ctx, textProtocol as FrontEnd<unknown>);
  first.send("get q\n");
  expect(first.socket.output).toBe("");
  await othersGetNothing(ctx, timer);
  await turnsUntil(() => first.socket.output !== "");
  expect(first.socket.output).toBe(":a\n");
});

test("a monitor's item the socket doesn't take is not timed out until it is written", async () => {
  const { ctx, timer } = setUp();
  const first = connect(ctx);
  first.socket.room = 0;
  first.send("monitor q 1\r\n");
  expect(first.socket.output).toBe("");
  await othersGetNothing(ctx, timer);
  first.socket.room = Infinity;
  first.connection.onDrain();
  expect(first.socket.output).toBe("VALUE q 0 1\r\na\r\nEND\r\n");
  await timesOutOnceDelivered(ctx, timer, first);
});

test("a text monitor's item the socket doesn't take is not timed out until it is written", async () => {
  const { ctx, timer } = setUp();
  const first = connect(ctx, textProtocol as FrontEnd<unknown>);
  first.socket.room = 0;
  first.send("monitor q 1000\n");
  expect(first.socket.output).toBe("");
  await othersGetNothing(ctx, timer);
  first.socket.room = Infinity;
  first.connection.onDrain();
  expect(first.socket.output).toBe(":a\n*\n");
});

test("a monitor's item waiting for its open record's journal write is not timed out before it", async () => {
  const { ctx, timer } = setUp("journal = true\n");
  const first = connect(ctx);
  first.send("monitor q 1\r\n");
  expect(first.socket.output).toBe("");
  await othersGetNothing(ctx, timer);
  await turnsUntil(() => first.socket.output !== "");
  expect(first.socket.output).toBe("VALUE q 0 1\r\na\r\nEND\r\n");
  await timesOutOnceDelivered(ctx, timer, first);
});

test("a connection closing with an open item still in an undelivered reply puts it back, once", async () => {
  const { ctx, timer, q } = setUp();
  const first = connect(ctx);
  first.socket.room = 0;
  first.send("get q/open\r\n");
  first.connection.onClose();
  await turnsUntil(() => q().stats().openTransactions === 0);
  expect(q().stats()).toMatchObject({ items: 1, openTransactionsTimedOut: 0 });
  timer.advance(10 * TIMEOUT_MS);
  expect(q().stats()).toMatchObject({ items: 1, openTransactionsTimedOut: 0 });
});
