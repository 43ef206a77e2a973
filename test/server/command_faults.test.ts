/**
 * A bug in a command's later work never ends the server (Connection.continueSafely): a get after
 * the queues it makes over turns, a blocking get woken by a set or by its deadline, flush_expired,
 * flush_all, a text put over turns, a monitor woken by a set, a confirm over turns and a report
 * over turns each have their first reply made later (outside the request's execution) throw once.
 * What the failed command took is put back as if its client had left: items taken or opened for
 * it go back to their queues.
 * The client then gets the front end's internal error in that reply's place, one line is logged,
 * its connection goes on with its next request, another connection is answered, and the work that
 * woke it (another client's set) is not blamed. Each runs on Connections over RecordingSockets and
 * real queues.
 */
import { afterEach, beforeEach, expect, spyOn, test, type Mock } from "bun:test";
import { log } from "../../src/log.ts";
import { Connection } from "../../src/server/connection.ts";
import type { ServerContext } from "../../src/server/context.ts";
import type { FrontEnd } from "../../src/server/front_end.ts";
import { memcache } from "../../src/server/memcache/front_end.ts";
import { text } from "../../src/server/text/text_front_end.ts";
import { bytes } from "../helpers/bytes.ts";
import { RecordingSocket } from "../helpers/recording_socket.ts";
import { contextPerTest } from "../helpers/server_context.ts";
import { nextTurn, steppedTurnClock } from "../helpers/turn_clock.ts";

const context = contextPerTest();
// Every look at the turns' clock moves it 1 ms on: work that can go over turns does, a few steps a turn.
steppedTurnClock(1);
let ctx: ServerContext;
let logged: Mock<typeof log.error>;

beforeEach(() => {
  ctx = context();
  logged = spyOn(log, "error").mockImplementation(() => {});
});
afterEach(() => logged.mockRestore());

interface Client {
  readonly socket: RecordingSocket;
  readonly connection: Connection<unknown>;
  send(request: string): void;
  /** Sends `request` in a fresh turn, so it runs at once, then makes the next reply throw (`failNextReply`). */
  sendThenFail(request: string): Promise<void>;
}

function connect<F>(frontEnd: FrontEnd<F> = memcache as unknown as FrontEnd<F>): Client {
  const socket = new RecordingSocket();
  const connection = new Connection(socket, ctx, frontEnd, 0, 1 << 20) as Connection<unknown>;
  const send = (request: string): void => connection.onData(bytes(request));
  const client: Client = {
    socket,
    connection,
    send,
    sendThenFail: async (request) => {
      await nextTurn();
      send(request);
      failNextReply(client);
    },
  };
  return client;
}

const REPLY_METHODS = ["push", "pushAfter", "resolve", "pushPart", "pushPartAfter"] as const;

/**
 * From now on, the next reply `client`'s outbox is given (pushed, pushed after a commit, or put
 * in its reserved place) throws once: the bug, in whatever work of the command comes later.
 */
function failNextReply(client: Client): void {
  const outbox = client.connection.outbox as unknown as Record<string, unknown>;
  const restore = (): void => {
    for (const method of REPLY_METHODS) delete outbox[method];
  };
  for (const method of REPLY_METHODS) {
    outbox[method] = () => {
      restore();
      throw new Error("injected bug");
    };
  }
}

/**
 * From now on, the next reply or part of one `client`'s outbox is given is placed and then throws
 * once: the bug is in the command's bookkeeping after its reply went in.
 */
function failAfterNextReply(client: Client): void {
  const outbox = client.connection.outbox as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals = new Map(REPLY_METHODS.map((method) => [method, outbox[method]!]));
  const restore = (): void => {
    for (const method of REPLY_METHODS) delete outbox[method];
  };
  for (const method of REPLY_METHODS) {
    outbox[method] = (...args: unknown[]) => {
      restore();
      originals.get(method)!.apply(outbox, args);
      throw new Error("injected bug");
    };
  }
}

/** Waits, a turn at a time, until `client` has been sent `expected` (at most 1,000 turns). */
async function replied(client: Client, expected: string): Promise<void> {
  for (let turns = 0; client.socket.output.length < expected.length && turns < 1000; turns++) await nextTurn();
  expect(client.socket.output).toBe(expected);
}

/** The bug was logged once, as `what`; the client's connection and another one are answered. */
async function goesOn(client: Client, what: RegExp, versionRequest = "version\r\n", versionReply = "VERSION test\r\n"): Promise<void> {
  expect(logged.mock.calls.map((call) => String(call[0]))).toEqual([expect.stringMatching(what)]);
  expect(String(logged.mock.calls[0]![0])).toEndWith(": injected bug");
  const before = client.socket.output;
  client.send(versionRequest);
  await replied(client, before + versionReply);
  const other = connect();
  other.send("version\r\n");
  await replied(other, "VERSION test\r\n");
}

const INTERNAL = "SERVER_ERROR internal error\r\n";

test("a get whose queues are made over turns: the get itself throws", async () => {
  const client = connect();
  const names = Array.from({ length: 12 }, (_, i) => `new${i}`);
  await client.sendThenFail(`get ${names.join(" ")}\r\n`);
  await replied(client, INTERNAL);
  // Its reads go over turns too (the turn's budget went on making the queues): the reply is made in their last slice.
  await goesOn(client, /^internal error (serving a get after making its queues|continuing a read of many keys): /);
});

test("a blocking get woken by another client's set: the waiter gets the error, the setter its STORED", async () => {
  const waiter = connect();
  await waiter.sendThenFail("get q/t=60000\r\n");
  const setter = connect();
  setter.send("set q 0 0 1\r\nx\r\n");
  await replied(setter, "STORED\r\n");
  await replied(waiter, INTERNAL);
  await goesOn(waiter, /^internal error serving a read after its wait: /);
  // The item the failed read took is not lost: it went back to the queue.
  const reader = connect();
  reader.send("get q\r\n");
  await replied(reader, "VALUE q 0 1\r\nx\r\nEND\r\n");
});

test("a blocking reliable read woken by another client's set: the item it opened goes back, and the client's next close confirms nothing", async () => {
  const waiter = connect();
  await waiter.sendThenFail("get q/open/t=60000\r\n");
  const setter = connect();
  setter.send("set q 0 0 1\r\nx\r\n");
  await replied(setter, "STORED\r\n");
  await replied(waiter, INTERNAL);
  await goesOn(waiter, /^internal error serving a read after its wait: /);
  // The client never saw the item: it is not open on its connection, so this close confirms nothing.
  waiter.send("get q/close\r\n");
  await replied(waiter, INTERNAL + "VERSION test\r\nEND\r\n");
  const reader = connect();
  reader.send("get q\r\n");
  await replied(reader, "VALUE q 0 1\r\nx\r\nEND\r\n");
});

test("a blocking get that times out: the error in its place, after the replies before it", async () => {
  const client = connect();
  await client.sendThenFail("version\r\nget q/t=1\r\n");
  await replied(client, "VERSION test\r\n" + INTERNAL);
  await goesOn(client, /^internal error serving a read after its wait: /);
});

test("flush_all_expired over turns", async () => {
  for (let i = 0; i < 20; i++) ctx.queues.getOrCreate(`q${i}`);
  const client = connect();
  await client.sendThenFail("flush_all_expired\r\n");
  await replied(client, INTERNAL);
  await goesOn(client, /^internal error finishing a flush_expired: /);
});

test("flush_all over turns", async () => {
  for (let i = 0; i < 20; i++) ctx.queues.getOrCreate(`q${i}`);
  const client = connect();
  await client.sendThenFail("flush_all\r\n");
  await replied(client, INTERNAL);
  await goesOn(client, /^internal error finishing a flush_all: /);
});

/** A monitor of `q` whose reply to the item another client's set wakes it with throws: the monitor gets the error, the setter its STORED. */
async function monitorFailedOnItem() {
  const monitor = connect();
  await monitor.sendThenFail("monitor q 60\r\n");
  const setter = connect();
  setter.send("set q 0 0 1\r\nx\r\n");
  await replied(setter, "STORED\r\n");
  await replied(monitor, INTERNAL);
  await goesOn(monitor, /^internal error continuing a monitor: /);
  return monitor;
}

test("a monitor woken by another client's set: the monitor gets the error, the setter its STORED", async () => {
  await monitorFailedOnItem();
});

test("a monitor whose item's reply throws: that item goes back, and the client's confirm confirms nothing", async () => {
  const monitor = await monitorFailedOnItem();
  // The client never saw the item: nothing is open on its connection to confirm.
  monitor.send("confirm q 1\r\n");
  await replied(monitor, INTERNAL + "VERSION test\r\nERROR\r\n");
  const reader = connect();
  reader.send("get q\r\n");
  await replied(reader, "VALUE q 0 1\r\nx\r\nEND\r\n");
});

test("a confirm over turns", async () => {
  ctx = context("max_open_transactions = 100\n");
  const client = connect();
  client.send(Array.from({ length: 20 }, () => "set q 0 0 1\r\nx\r\n").join(""));
  client.send("monitor q 60 20\r\n");
  await replied(client, "STORED\r\n".repeat(20) + "VALUE q 0 1\r\nx\r\n".repeat(20) + "END\r\n");
  const before = client.socket.output;
  await client.sendThenFail("confirm q 20\r\n");
  await replied(client, before + INTERNAL);
  await goesOn(client, /^internal error continuing a confirm: /);
});

test("a stats report over turns", async () => {
  for (let i = 0; i < 20; i++) ctx.queues.getOrCreate(`q${i}`);
  const client = connect();
  await client.sendThenFail("stats\r\n");
  await replied(client, INTERNAL);
  await goesOn(client, /^internal error continuing a report: /);
});

test("a text put over turns: the error is the text protocol's", async () => {
  const client = connect(text);
  await client.sendThenFail(`put q:\n${Array.from({ length: 20 }, (_, i) => `item-${i}`).join("\n")}\n\n`);
  await replied(client, "-Internal error.\n");
  await goesOn(client, /^internal error adding a put's items: /, "version\n", ":test\n");
});

test("a set that throws before its reply: exactly one internal error, and the next request its own reply", async () => {
  const client = connect();
  await nextTurn();
  failNextReply(client);
  client.send("set q 0 0 1\r\nx\r\n");
  await replied(client, INTERNAL);
  await goesOn(client, /^internal error executing set: /);
});

test("a noreply set, delete or flush that throws: no reply at all (not even the internal error), and the next request its own reply", async () => {
  const client = connect();
  const getOrCreate = spyOn(ctx.queues, "getOrCreate").mockImplementation(() => {
    throw new Error("injected bug");
  });
  const get = spyOn(ctx.queues, "get").mockImplementation(() => {
    throw new Error("injected bug");
  });
  const remove = spyOn(ctx.queues, "delete").mockImplementation(() => {
    throw new Error("injected bug");
  });
  try {
    for (const request of ["set q 0 0 1 noreply\r\nx\r\n", "delete q noreply\r\n", "flush q noreply\r\n"]) client.send(request);
  } finally {
    for (const spy of [getOrCreate, get, remove]) spy.mockRestore();
  }
  expect(logged.mock.calls.map((call) => String(call[0]))).toEqual([
    expect.stringMatching(/^internal error executing set: injected bug/),
    expect.stringMatching(/^internal error executing delete: injected bug/),
    expect.stringMatching(/^internal error executing flush: injected bug/),
  ]);
  client.send("version\r\n");
  await replied(client, "VERSION test\r\n");
});

test("the same set without noreply: the internal error", async () => {
  const client = connect();
  const getOrCreate = spyOn(ctx.queues, "getOrCreate").mockImplementation(() => {
    throw new Error("injected bug");
  });
  try {
    client.send("set q 0 0 1\r\nx\r\n");
  } finally {
    getOrCreate.mockRestore();
  }
  await replied(client, INTERNAL);
});

test("a set that throws after its STORED is queued: the STORED alone, no second reply", async () => {
  const client = connect();
  await nextTurn();
  failAfterNextReply(client);
  client.send("set q 0 0 1\r\nx\r\n");
  await replied(client, "STORED\r\n");
  await goesOn(client, /^internal error executing set: /);
  // The item was stored, as the reply said.
  const reader = connect();
  reader.send("get q\r\n");
  await replied(reader, "VALUE q 0 1\r\nx\r\nEND\r\n");
});

test("a get that throws after its reply is queued: the item is delivered once, no second reply", async () => {
  const client = connect();
  client.send("set q 0 0 1\r\nx\r\n");
  await replied(client, "STORED\r\n");
  await nextTurn();
  failAfterNextReply(client);
  client.send("get q\r\n");
  await replied(client, "STORED\r\nVALUE q 0 1\r\nx\r\nEND\r\n");
  await goesOn(client, /^internal error executing get: /);
  const reader = connect();
  reader.send("get q\r\n");
  await replied(reader, "END\r\n");
});

test("a get of two queues that throws after its reply is queued: one reply with both items", async () => {
  const client = connect();
  client.send("set a 0 0 1\r\nx\r\nset b 0 0 1\r\ny\r\n");
  await replied(client, "STORED\r\n".repeat(2));
  await nextTurn();
  failAfterNextReply(client);
  client.send("get a b\r\n");
  await replied(client, "STORED\r\n".repeat(2) + "VALUE a 0 1\r\nx\r\nVALUE b 0 1\r\ny\r\nEND\r\n");
  await goesOn(client, /^internal error executing get: /);
  const reader = connect();
  reader.send("get a b\r\n");
  await replied(reader, "END\r\n");
});

test("a blocking get whose later work throws after deciding its reply: the item once, nothing given back, no second reply", async () => {
  const waiter = connect();
  waiter.send("version\r\n");
  await replied(waiter, "VERSION test\r\n");
  await nextTurn();
  waiter.send("get q/t=60000\r\n");
  failAfterNextReply(waiter);
  const setter = connect();
  setter.send("set q 0 0 1\r\nx\r\n");
  await replied(setter, "STORED\r\n");
  await replied(waiter, "VERSION test\r\nVALUE q/t=60000 0 1\r\nx\r\nEND\r\n");
  await goesOn(waiter, /^internal error serving a read after its wait: /);
  // The item went to the waiter: it is not back in the queue as well.
  const reader = connect();
  reader.send("get q\r\n");
  await replied(reader, "END\r\n");
});

test("a blocking reliable read whose later work throws after deciding its reply: the item stays open for the client's close", async () => {
  const waiter = connect();
  await nextTurn();
  waiter.send("get q/open/t=60000\r\n");
  failAfterNextReply(waiter);
  const setter = connect();
  setter.send("set q 0 0 1\r\nx\r\n");
  await replied(setter, "STORED\r\n");
  await replied(waiter, "VALUE q/open/t=60000 0 1\r\nx\r\nEND\r\n");
  await goesOn(waiter, /^internal error serving a read after its wait: /);
  const before = waiter.socket.output;
  waiter.send("get q/close\r\nget q/abort\r\n");
  await replied(waiter, before + "END\r\nEND\r\n");
  const reader = connect();
  reader.send("get q\r\n");
  await replied(reader, "END\r\n");
});

test("a monitor that throws after placing an item's part of its reply: the error ends the reply, and the item stays open for a confirm", async () => {
  ctx = context("max_open_transactions = 2\n");
  const monitor = connect();
  await nextTurn();
  monitor.send("monitor q 60\r\n");
  const setter = connect();
  setter.send("set q 0 0 1\r\nx\r\n");
  await replied(monitor, "VALUE q 0 1\r\nx\r\n");
  failAfterNextReply(monitor);
  setter.send("set q 0 0 1\r\ny\r\n");
  await replied(setter, "STORED\r\n".repeat(2));
  await replied(monitor, "VALUE q 0 1\r\nx\r\nVALUE q 0 1\r\ny\r\n" + INTERNAL);
  await goesOn(monitor, /^internal error continuing a monitor: /);
  // The client saw both items: both are open on its connection, and its confirm settles them.
  const before = monitor.socket.output;
  monitor.send("confirm q 2\r\n");
  await replied(monitor, before + "END\r\n");
  const reader = connect();
  reader.send("get q\r\n");
  await replied(reader, "END\r\n");
});

test("a text put that throws after its count is queued: the count alone", async () => {
  const client = connect(text);
  await nextTurn();
  failAfterNextReply(client);
  client.send("put q:\nx\n\n");
  await replied(client, "+1\n");
  await goesOn(client, /^internal error executing put: /, "version\n", ":test\n");
});

test("a text get that throws after its item is queued: the item alone, open for the next get to confirm", async () => {
  const client = connect(text);
  client.send("put q:\nx\ny\n\n");
  await replied(client, "+2\n");
  await nextTurn();
  failAfterNextReply(client);
  client.send("get q\n");
  await replied(client, "+2\n:x\n");
  await goesOn(client, /^internal error executing get: /, "version\n", ":test\n");
  const before = client.socket.output;
  client.send("get q\nget q\n");
  await replied(client, before + ":y\n*\n");
});
