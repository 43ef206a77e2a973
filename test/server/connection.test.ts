import { describe, expect, test } from "bun:test";
import { monotonicMs } from "../../src/clock.ts";
import { Commit } from "../../src/journal/commit.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { configFor } from "../helpers/config.ts";
import { FaultInjector } from "../helpers/faulty_fs.ts";
import { RecordingSocket } from "../helpers/recording_socket.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import { Connection } from "../../src/server/connection.ts";
import { memcache } from "../../src/server/memcache/front_end.ts";
import { versionLine } from "../../src/server/memcache/replies.ts";
import { FLUSH_BYTES } from "../../src/server/outbox.ts";
import type { ServerContext } from "../../src/server/context.ts";
import { MemoryPacer } from "../../src/server/memory_pacer.ts";
import { RequestBudget } from "../../src/server/request_budget.ts";
import { ServerStats } from "../../src/server/stats.ts";
import { ServerStatus } from "../../src/server/status.ts";
import { TURN_MS, overrunDeadline, turnDeadline } from "../../src/server/turn_scheduler.ts";
import { nextTurn, steppedTurnClock } from "../helpers/turn_clock.ts";

// Writing replies touches only the counters and the (default) status; nothing here reaches the queues.
const ctx = {
  stats: new ServerStats(),
  status: ServerStatus.load(tempDir(), "up", () => {}),
  pacer: new MemoryPacer(),
  requestBudget: new RequestBudget(() => Infinity),
  credentials: () => null,
} as unknown as ServerContext;

describe("Connection idle timeout", () => {
  test("the socket's own idle timer is turned off, whatever the timeout (Bun closes idle sockets at 120 s by default)", () => {
    for (const timeoutMs of [0, 30_000]) {
      const socket = new RecordingSocket();
      new Connection(socket, ctx, memcache, timeoutMs, 1024);
      expect(socket.timeouts).toEqual([0]);
    }
  });

  test("a connection is closed once the idle checks found no traffic for the timeout, counted from the check that last saw a request or reply", () => {
    const socket = new RecordingSocket();
    const connection = new Connection(socket, ctx, memcache, 5000, 1024);
    // Whole milliseconds, so the sums below are exact.
    const start = Math.ceil(monotonicMs());
    expect(connection.closeIfIdle(start + 4000)).toBe(false);
    connection.onData(bytes("version\r\n"));
    expect(socket.output).toStartWith("VERSION");
    // The check at 4,500 ms finds the request: idleness counts from there.
    expect(connection.closeIfIdle(start + 4500)).toBe(false);
    expect(connection.closeIfIdle(start + 9499)).toBe(false);
    expect(socket.ended).toBe(false);
    expect(connection.closeIfIdle(start + 9500)).toBe(true);
    expect(socket.ended).toBe(true);
  });

  test("a reply written (with no request in the same check interval) counts as traffic too", () => {
    const socket = new RecordingSocket();
    const connection = new Connection(socket, ctx, memcache, 5000, 1024);
    // Whole milliseconds, so the sums below are exact.
    const start = Math.ceil(monotonicMs());
    const commit = new Commit();
    connection.outbox.pushAfter(commit, ["STORED\r\n"], null);
    expect(connection.closeIfIdle(start + 1000)).toBe(false);
    commit.settle("durable");
    connection.replyReady();
    return Promise.resolve().then(() => {
      expect(socket.output).toBe("STORED\r\n");
      expect(connection.closeIfIdle(start + 6000)).toBe(false);
      expect(connection.closeIfIdle(start + 10_999)).toBe(false);
      expect(connection.closeIfIdle(start + 11_000)).toBe(true);
    });
  });

  test("timeout 0 never closes; a connection that still owes a reply is kept", () => {
    const never = new RecordingSocket();
    expect(new Connection(never, ctx, memcache, 0, 1024).closeIfIdle(monotonicMs() + 1e9)).toBe(false);

    const busy = new RecordingSocket();
    const connection = new Connection(busy, ctx, memcache, 5000, 1024);
    const commit = new Commit();
    connection.outbox.pushAfter(commit, ["VALUE q 0 1\r\nx\r\nEND\r\n"], null);
    expect(connection.closeIfIdle(monotonicMs() + 1e9)).toBe(false);
    expect(busy.ended).toBe(false);
    commit.settle("durable");
  });
});

describe("Connection close", () => {
  const drain = (queues: QueueCollection) => {
    const out: string[] = [];
    for (let item = queues.get("q")!.remove(Date.now()); item !== undefined; item = queues.get("q")!.remove(Date.now())) out.push(text(item.data)[0]!);
    return out;
  };

  test("items of replies that never reached the socket go back to the head, in order, and stay there after a restart", async () => {
    const config = configFor(tempDir());
    let queues = QueueCollection.load(config);
    for (const n of [0, 1, 2, 3, 4]) queues.add("q", bytes(`${n}`.repeat(1000)), 0, Date.now());
    const socket = new RecordingSocket();
    socket.room = 1500; // the first reply, and part of the second
    const session = { ...ctx, queues } as unknown as ServerContext;
    const connection = new Connection(socket, session, memcache, 0, 1 << 20);
    connection.onData(bytes("get q\r\nget q\r\nget q\r\n"));
    // The replies wait for their REMOVEs to be written, then go out (in a microtask) as far as
    // the socket takes them; the three gets may be executed over more than one turn.
    while (queues.get("q")!.stats().items > 2) await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => queues.get("q")!.commit.onSettled(resolve));
    await Promise.resolve();
    expect(socket.written).toBe(1500);
    connection.onClose();
    expect(queues.get("q")!.stats().items).toBe(4);
    queues.close();
    queues = QueueCollection.load(config);
    expect(drain(queues)).toEqual(["1", "2", "3", "4"]);
    queues.close();
  });
});

describe("Connection backlog", () => {
  test("replies held behind a get waiting for the journal's retry pause reading, and reading goes on once it is written", async () => {
    const faults = FaultInjector.install();
    try {
      const queues = QueueCollection.load(configFor(tempDir(), 'sync_journal = "always"\n'));
      queues.add("q", bytes("x"), 0, Date.now());
      await new Promise<void>((resolve) => queues.get("q")!.commit.onSettled(resolve));
      faults.set([{ op: "fsyncAsync", code: "EIO" }, { op: "fsync", code: "EIO" }]);
      const socket = new RecordingSocket();
      const connection = new Connection(socket, { ...ctx, queues } as unknown as ServerContext, memcache, 0, 1 << 20);
      connection.onData(bytes("get q\r\n")); // its REMOVE's fsync fails: the reply waits for the retry
      await new Promise<void>((resolve) => queues.get("q")!.commit.onSettled(resolve));
      // Every later get is refused at once, but its reply queues behind the first one.
      for (let i = 0; i < 200 && !socket.paused; i++) connection.onData(bytes("get q\r\n".repeat(1000)));
      expect(socket.paused).toBe(true);
      expect(socket.written).toBe(0);
      faults.clear();
      queues.maintainJournals(); // the retry writes and syncs: the first reply, then the rest, go out
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(socket.written).toBeGreaterThan(0);
      // The buffered gets run over a few turns (turn_scheduler.ts), then reading resumes.
      for (let turn = 0; turn < 10_000 && socket.paused; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
      expect(socket.paused).toBe(false);
      connection.onClose();
      queues.close();
    } finally {
      faults.uninstall();
    }
  });
});

describe("Connection writes", () => {
  test("a backlog of small replies goes out a flush's worth per round once the client reads; another client is served in between", async () => {
    const other = new RecordingSocket();
    const otherConnection = new Connection(other, ctx, memcache, 0, 1 << 20);
    const replyLength = versionLine(ctx.version).length;
    const socket = new RecordingSocket();
    socket.room = 1000;
    const connection = new Connection(socket, ctx, memcache, 0, 1 << 20);
    const requests = 30_000;
    const replyBytes = requests * replyLength;
    connection.onData(bytes("version\r\n".repeat(requests)));
    // The requests run over a few rounds; the socket takes 1,000 bytes of their replies. Once the
    // backlog stays the same for a few rounds, every request has run.
    let steady = 0;
    for (let turn = 0, last = -1; turn < 10_000 && steady < 3; turn++, last = connection.outbox.backlog) {
      await nextTurn();
      steady = connection.outbox.backlog === last ? steady + 1 : 0;
    }
    expect(steady).toBe(3);
    expect(socket.written).toBe(1000);

    socket.room = Infinity; // the client reads
    connection.onDrain();
    // A flush stops once FLUSH_BYTES went out: here the rest of the blocked write, then one more scratch buffer.
    expect(socket.written).toBeLessThanOrEqual(1000 + 2 * FLUSH_BYTES);
    // Another client is served (at once, or in the next round if this turn's budget is spent)
    // while the backlog is still going out.
    otherConnection.onData(bytes("version\r\n"));
    for (let turn = 0; turn < 10 && other.written < replyLength; turn++) await nextTurn();
    expect(other.written).toBe(replyLength);
    expect(socket.written).toBeLessThan(replyBytes);
    for (let turn = 0; turn < 10_000 && socket.written < replyBytes; turn++) await nextTurn();
    expect(socket.written).toBe(replyBytes);
    expect(socket.output.split("\r\n").filter((line) => line.startsWith("VERSION ")).length).toBe(requests);
  });
});

describe("Connection turns", () => {
  /** The turns' clock: every look at it moves it 1 µs on, so a request costs a few µs whatever the machine. */
  const clock = steppedTurnClock(0.001);

  /** Two connections with more pipelined gets of the empty queue `q` than one turn runs. */
  const busyConnections = (session: ServerContext, pipelined: number) => {
    const sockets = [new RecordingSocket(), new RecordingSocket()];
    const connections = sockets.map((socket) => new Connection(socket, session, memcache, 0, 1 << 20));
    const request = bytes("get q\r\n".repeat(pipelined));
    for (const connection of connections) connection.onData(request);
    for (const socket of sockets) expect(socket.written).toBeLessThan(pipelined * 5); // each left requests over
    return { sockets, connections };
  };

  test("once the turn's budget is spent, busy connections and heavy requests wait for a later round, a light new request is served at once", async () => {
    const queues = QueueCollection.load(configFor(tempDir()));
    const session = { ...ctx, queues } as unknown as ServerContext;
    const pipelined = 50_000;
    const busy = busyConnections(session, pipelined);
    clock.time = turnDeadline(); // the rest of this turn goes to other work

    const fresh = new RecordingSocket();
    const pinging = new Connection(fresh, session, memcache, 0, 1 << 20);
    for (let ping = 1; ping <= 3; ping++) {
      pinging.onData(bytes("get q\r\n"));
      expect(fresh.written).toBe(5 * ping); // END, in the turn it arrived, each time
    }
    const heavy = new RecordingSocket();
    new Connection(heavy, session, memcache, 0, 1 << 20).onData(bytes(`get ${"q ".repeat(200)}\r\n`));
    expect(heavy.written).toBe(0); // a get of many keys waits for its round

    const before = busy.sockets[0]!.written;
    busy.connections[0]!.onData(bytes("get q\r\n"));
    expect(busy.sockets[0]!.written).toBe(before); // its requests wait for its round, in order

    let rounds = 0;
    while (busy.sockets.some((socket) => socket.written < pipelined * 5) && rounds < 100_000) {
      await nextTurn();
      rounds++;
    }
    expect(busy.sockets.map((socket) => socket.written)).toEqual([(pipelined + 1) * 5, pipelined * 5]);
    expect(heavy.written).toBe(5);
    expect(rounds).toBeGreaterThan(1);
    queues.close();
  });

  test("once the turn's budget is spent, gets of big items or of items on disk wait for their rounds, in order; a ping is served at once", async () => {
    const queues = QueueCollection.load(configFor(tempDir(), "[queues.rb]\nmax_memory_size = 1000\n"));
    const session = { ...ctx, queues } as unknown as ServerContext;
    const OPENERS = 20;
    for (let n = 0; n < OPENERS; n++) queues.add("big", bytes(String(n).padStart(100 * 1024, "-")), 0, Date.now());
    for (let n = 0; n < 10; n++) queues.add("rb", bytes(String(n).padStart(600, "-")), 0, Date.now());
    expect(queues.get("rb")!.stats().memItems).toBe(1); // the rest wait on disk
    clock.time = turnDeadline();

    // Each from a connection that had nothing queued, each a short line: light by its line alone.
    const openers = Array.from({ length: OPENERS }, () => new RecordingSocket());
    for (const socket of openers) new Connection(socket, session, memcache, 0, 1 << 20).onData(bytes("get big/open\r\n"));
    const reader = new RecordingSocket();
    new Connection(reader, session, memcache, 0, 1 << 20).onData(bytes("get rb rb/t=1\r\n"));
    expect(queues.get("big")!.stats().openTransactions).toBe(0); // none ran in this turn
    expect(queues.get("rb")!.stats().items).toBe(10);
    const ping = new RecordingSocket();
    new Connection(ping, session, memcache, 0, 1 << 20).onData(bytes("get q\r\n"));
    expect(ping.output).toBe("END\r\n");

    for (let rounds = 0; openers.some((socket) => !socket.output.endsWith("END\r\n")) || !reader.output.endsWith("END\r\n"); rounds++) {
      expect(rounds).toBeLessThan(1000);
      await nextTurn();
    }
    // Each opener got the item its place in line gave it.
    expect(openers.map((socket) => socket.output.slice(socket.output.indexOf("\r\n") + 2).replace(/^-+/, "").split("\r\n")[0])).toEqual(
      Array.from({ length: OPENERS }, (_, n) => String(n)),
    );
    expect(reader.output.match(/^VALUE rb(\/t=1)? /gm)?.length).toBe(2);
    queues.close();
  });

  test("past the turn's overrun a light request waits, but for the next round only: it runs before the busy connections", async () => {
    const queues = QueueCollection.load(configFor(tempDir()));
    const session = { ...ctx, queues } as unknown as ServerContext;
    const pipelined = 50_000;
    const busy = busyConnections(session, pipelined);
    clock.time = overrunDeadline();

    const fresh = new RecordingSocket();
    new Connection(fresh, session, memcache, 0, 1 << 20).onData(bytes("get q\r\n"));
    expect(fresh.written).toBe(0);
    const before = busy.sockets.map((socket) => socket.written);
    await nextTurn();
    expect(fresh.output).toBe("END\r\n");
    // That round ran at least one busy connection too, and neither is through.
    expect(busy.sockets.some((socket, i) => socket.written > before[i]!)).toBe(true);
    expect(busy.sockets.every((socket) => socket.written < pipelined * 5)).toBe(true);
    // Their rounds stop here, not in the tests after this one.
    for (const connection of busy.connections) connection.onClose();
    queues.close();
  });

  test("past the overrun, many connections each pipelining light requests take one request each from the prompt lane: a ping behind them runs in the next round", async () => {
    const queues = QueueCollection.load(configFor(tempDir()));
    const session = { ...ctx, queues } as unknown as ServerContext;
    const [CONNECTIONS, PIPELINED] = [50, 2000];
    clock.time = overrunDeadline();
    // Each arrives past the overrun with a light first request: each goes to the prompt lane.
    const sockets = Array.from({ length: CONNECTIONS }, () => new RecordingSocket());
    const connections = sockets.map((socket) => new Connection(socket, session, memcache, 0, 1 << 20));
    for (const connection of connections) connection.onData(bytes("get q\r\n".repeat(PIPELINED)));
    const fresh = new RecordingSocket();
    new Connection(fresh, session, memcache, 0, 1 << 20).onData(bytes("get q\r\n"));
    expect(fresh.written).toBe(0);
    await nextTurn();
    // Each of those ran its first request there and left the rest for its round as a busy one
    // (300 connections pipelining 100 gets each kept a ping waiting 200-460 ms, every turn short).
    expect(fresh.output).toBe("END\r\n");
    expect(sockets.every((socket) => socket.written >= 5)).toBe(true);
    for (let rounds = 0; sockets.some((socket) => socket.written < PIPELINED * 5); rounds++) {
      expect(rounds).toBeLessThan(100_000);
      await nextTurn();
    }
    queues.close();
  });

  // The woken waiters' replies become ready outside their connections' turns: when the journal
  // write their reply waits for settles, or (memory only) as the set that woke them runs.
  for (const journal of [true, false]) {
    test(`waiters woken by a burst of sets are answered within the turns' budget: past its overrun in later rounds, a budget's worth each, in line, each item once (journal ${journal})`, async () => {
      const queues = QueueCollection.load(configFor(tempDir(), journal ? "" : "journal = false"));
      const session = { ...ctx, queues } as unknown as ServerContext;
      const WAITERS = 300;
      const waiters = Array.from({ length: WAITERS }, () => new RecordingSocket());
      for (const socket of waiters) new Connection(socket, session, memcache, 0, 1 << 20).onData(bytes("get w/t=60000\r\n"));
      const sets = Array.from({ length: WAITERS }, (_, n) => `set w 0 0 ${String(n).length}\r\n${n}\r\n`).join("");
      const setter = new RecordingSocket();
      new Connection(setter, session, memcache, 0, 1 << 20).onData(bytes(sets));
      // Every set ran in this turn and handed its item to the waiter first in line.
      expect(queues.get("w")!.stats().waiters).toBe(0);
      expect(queues.get("w")!.stats().items).toBe(0);

      clock.time = overrunDeadline(); // the turn is spent, light work and all
      if (journal) flushJournals(); // the replies' commit settles now
      await null; // the microtasks that followed
      const answered = () => waiters.filter((socket) => socket.written > 0).length;
      expect(answered()).toBe(0);

      // Each answer costs a hundredth of a turn: a round answers about a hundred (and the one it
      // always runs), the first in line first.
      clock.step = TURN_MS / 100;
      let rounds = 0;
      for (let before = 0; answered() < WAITERS; before = answered()) {
        await nextTurn();
        rounds++;
        expect(answered() - before).toBeLessThanOrEqual(101);
        expect(waiters.slice(0, answered()).every((socket) => socket.written > 0)).toBe(true);
        expect(rounds).toBeLessThan(100);
      }
      expect(rounds).toBeGreaterThanOrEqual(3);
      expect(waiters.map((socket) => socket.output)).toEqual(Array.from({ length: WAITERS }, (_, n) => `VALUE w/t=60000 0 ${String(n).length}\r\n${n}\r\nEND\r\n`));
      // The setter's STOREDs waited for the same journal write: they are in line behind the waiters' replies.
      for (let turn = 0; turn < 10 && setter.written < "STORED\r\n".length * WAITERS; turn++) await nextTurn();
      expect(setter.output).toBe("STORED\r\n".repeat(WAITERS));
      queues.close();
    });
  }
});

test("the peer's address is read from the socket when first asked for, and once (Bun reads it with a system call)", () => {
  let reads = 0;
  const counting = new RecordingSocket();
  Object.defineProperty(counting, "remoteAddress", {
    get: () => {
      reads++;
      return "192.0.2.9";
    },
  });
  const connection = new Connection(counting, ctx, memcache, 0, 1024);
  connection.onData(bytes("version\r\n"));
  expect(reads).toBe(0);
  expect(connection.peer).toBe("192.0.2.9");
  expect(connection.peer).toBe("192.0.2.9");
  expect(reads).toBe(1);
});
