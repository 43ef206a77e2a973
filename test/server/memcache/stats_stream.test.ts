import { afterEach, describe, expect, test } from "bun:test";
import { shownQueueConfig } from "../../../src/config/load.ts";
import { Connection } from "../../../src/server/connection.ts";
import { memcache } from "../../../src/server/memcache/front_end.ts";
import { streamNamedStats, streamReport } from "../../../src/server/memcache/reports.ts";
import { queueBlock, queueSnapshot } from "../../../src/server/snapshot.ts";
import { bytes } from "../../helpers/bytes.ts";
import { countStatsReads } from "../../helpers/queues.ts";
import { configFor } from "../../helpers/config.ts";
import { FakeSession } from "../../helpers/fake_session.ts";
import { RecordingSocket } from "../../helpers/recording_socket.ts";
import { serverContext } from "../../helpers/server_context.ts";
import { tempDir } from "../../helpers/temp_dir.ts";
import { nextTurn, steppedTurnClock } from "../../helpers/turn_clock.ts";

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** A context with `count` queues (q0000, q0001, ...), each holding one item, and an alias. */
function contextWith(count: number) {
  const { ctx, queues } = serverContext(configFor(tempDir(), `[aliases.everyone]\ndestination_queues = ["q0000", "q0001"]\n`));
  closers.push(() => queues.close());
  for (let i = 0; i < count; i++) queues.add(`q${String(i).padStart(4, "0")}`, bytes("x"), 0, Date.now());
  return ctx;
}

/** Resolves once `socket` has received `until`; `flush` writes out what waits (a FakeSession's outbox is written only when asked). */
async function received(socket: RecordingSocket, until: string, flush = () => {}): Promise<string> {
  for (flush(); !socket.output.includes(until); flush()) await new Promise((resolve) => setImmediate(resolve));
  return socket.output;
}

/** The STAT lines for every queue, in name order, as one report made at once would list them. */
function queueLines(ctx: ReturnType<typeof contextWith>): string[] {
  const now = Date.now();
  return ctx.queues.byName().flatMap((queue) => queueBlock(queueSnapshot(ctx, queue, now)).entries.map(([name, value]) => `STAT queue_${queue.name}_${name} ${value}`));
}

/** The `age` of a queue moves with the clock: compared without it. */
const withoutAge = (lines: readonly string[]) => lines.filter((line) => !/^STAT queue_\S+_age /.test(line));

test("a long report goes out over several turns with the connection suspended: the server lines, every queue in name order, then the aliases and END", async () => {
  const ctx = contextWith(300);
  const session = new FakeSession();
  // No time per slice: one queue a turn.
  streamReport(session, ctx, "stats", 0);
  expect(session.suspended).toBe(true);

  const lines = (await received(session.socket, "END\r\n", () => session.outbox.flush())).split("\r\n").filter((line) => line !== "");
  expect(session.suspended).toBe(false);
  expect(session.resumed).toBe(1);
  expect(lines[0]).toStartWith("STAT pid ");
  expect(lines).toContain("STAT curr_items 300");
  expect(lines.findIndex((line) => line.startsWith("STAT queue_q"))).toBe(lines.indexOf("STAT request_waits 0") + 1);
  const queueStats = lines.filter((line) => line.startsWith("STAT queue_q"));
  expect(withoutAge(queueStats)).toEqual(withoutAge(queueLines(ctx)));
  expect(lines.slice(-4)).toEqual(["STAT queue_everyone_put_items 0", "STAT queue_everyone_put_bytes 0", "STAT queue_everyone_children q0000,q0001", "END"]);
});

test("the server's totals are summed a queue a step, not all in the first turn, each queue as it is when added; a queue deleted meanwhile counts its total_items once", async () => {
  const ctx = contextWith(300);
  const count = countStatsReads(ctx.queues);
  const session = new FakeSession();
  streamReport(session, ctx, "stats", 0);
  expect(count.reads).toBe(1);
  session.outbox.flush();
  expect(session.socket.output).toBe(""); // the server lines wait for the sum

  let turns = 0;
  for (; count.reads < 150; turns++) await new Promise((resolve) => setImmediate(resolve));
  expect(turns).toBeGreaterThanOrEqual(149);
  ctx.queues.delete("q0000"); // added to the sum already, with its item
  ctx.queues.delete("q0299"); // not yet: its item is gone when it is
  const output = await received(session.socket, "END\r\n", () => session.outbox.flush());
  expect(output).toContain("STAT curr_items 299\r\nSTAT total_items 300\r\nSTAT bytes 299\r\n");
  expect(output).not.toContain("queue_q0000_");
  expect(output).not.toContain("queue_q0299_");
});

describe("with every look at the turns' clock costing 1 ms", () => {
  steppedTurnClock(1);

  test("dump_stats <names> goes out over turns, a block a step, another connection served in between; a name repeated is a block each time", async () => {
    const ctx = contextWith(300);
    const [socket, other] = [new RecordingSocket(), new RecordingSocket()];
    const names = ctx.queues.byName().map((queue) => queue.name);
    // 300 names and then q0000 again: one 8 KiB line of names was up to 4,090 blocks made in one turn (60-300 ms).
    new Connection(socket, ctx, memcache, 0, 1024 * 1024).onData(bytes(`dump_stats ${names.join(" ")} q0000\r\nversion\r\n`));
    new Connection(other, ctx, memcache, 0, 1024 * 1024).onData(bytes("version\r\n"));
    await received(other, "VERSION test\r\n");
    expect(socket.output).not.toContain("END\r\n");

    const output = await received(socket, "VERSION test\r\n");
    const blocks = output.split("}\r\n");
    expect(blocks.length).toBe(300 + 1 + 1);
    expect(blocks[0]).toStartWith("queue 'q0000' {\r\n  items=1\r\n");
    expect(blocks[299]).toStartWith("queue 'q0299' {\r\n");
    expect(blocks[300]).toStartWith("queue 'q0000' {\r\n  items=1\r\n");
    expect(blocks[301]).toBe("END\r\nVERSION test\r\n");
  });
});

describe("with the turns' clock standing still (a loaded machine can't spend the budget)", () => {
  steppedTurnClock(0);

  test("a short report is made at once, with no suspension", async () => {
    const ctx = contextWith(3);
    const session = new FakeSession();
    await nextTurn(); // a fresh turn: making the queues spent the last one's budget
    streamReport(session, ctx, "stats");
    session.outbox.flush();
    expect(session.resumed).toBe(0);
    expect(session.suspended).toBe(false);
    expect(session.socket.output).toEndWith("END\r\n");
    expect(session.socket.output.match(/^STAT queue_q\d+_items 1$/gm)?.length).toBe(3);
  });
});

test("a queue deleted before its slice is left out; a connection that leaves stops the report", async () => {
  const ctx = contextWith(50);
  const session = new FakeSession();
  streamReport(session, ctx, "stats", 0);
  ctx.queues.delete("q0049");
  const output = await received(session.socket, "END\r\n", () => session.outbox.flush());
  expect(output).toContain("STAT queue_q0048_items 1\r\n");
  expect(output).not.toContain("queue_q0049_");

  const leaving = new FakeSession();
  streamReport(leaving, ctx, "stats", 0);
  leaving.close();
  leaving.outbox.flush();
  const before = leaving.socket.output.length;
  for (let turn = 0; turn < 60; turn++) await new Promise((resolve) => setImmediate(resolve));
  leaving.outbox.flush();
  expect(leaving.socket.output.length).toBe(before);
  expect(leaving.socket.output).not.toContain("END\r\n");
});

test("requests sent after stats are answered after its END, in order", async () => {
  const ctx = contextWith(2000);
  const socket = new RecordingSocket();
  const connection = new Connection(socket, ctx, memcache, 0, 1024 * 1024);
  connection.onData(bytes("stats\r\nversion\r\nget q0000\r\n"));
  const output = await received(socket, "VALUE q0000 0 1\r\nx\r\nEND\r\n");
  const end = output.indexOf("END\r\n");
  expect(output.indexOf("VERSION")).toBeGreaterThan(end);
  expect(output.indexOf("STAT queue_q1999_items 1\r\n")).toBeLessThan(end);
});

test("dump_stats of every queue goes out over turns as blocks, then the aliases and END; dump_stats <names> lists those only, in order", async () => {
  const ctx = contextWith(120);
  const session = new FakeSession();
  streamReport(session, ctx, "dump", 0);
  expect(session.suspended).toBe(true);
  const output = await received(session.socket, "END\r\n", () => session.outbox.flush());
  const blocks = output.split("}\r\n");
  expect(blocks.length).toBe(120 + 1 + 1);
  expect(blocks[0]).toStartWith("queue 'q0000' {\r\n  items=1\r\n  bytes=1\r\n");
  expect(blocks[119]).toStartWith("queue 'q0119' {\r\n");
  expect(blocks[120]).toBe("queue 'everyone' {\r\n  put_items=0\r\n  put_bytes=0\r\n  children=q0000,q0001\r\n");
  expect(blocks[121]).toBe("END\r\n");
  expect(output).not.toContain("STAT ");

  const named = new FakeSession();
  streamNamedStats(named, ctx, ["q0002", "no\x00pe", "nothing", "x.y", "everyone"], 0);
  expect(await received(named.socket, "END\r\n", () => named.outbox.flush())).toMatch(/^queue 'q0002' \{\r\n {2}items=1\r\n[^}]*\}\r\nqueue 'nothing' \{\r\n\}\r\nqueue 'everyone' \{\r\n {2}put_items=0\r\n {2}put_bytes=0\r\n {2}children=q0000,q0001\r\n\}\r\nEND\r\n$/);
});

test("dump_config goes out over turns, another connection served in between: each queue's settings by name, then the aliases and END", async () => {
  const ctx = contextWith(2000);
  const [socket, other] = [new RecordingSocket(), new RecordingSocket()];
  const connection = new Connection(socket, ctx, memcache, 0, 1024 * 1024);
  connection.onData(bytes("dump_config\r\nversion\r\n"));
  new Connection(other, ctx, memcache, 0, 1024 * 1024).onData(bytes("version\r\n"));
  await received(other, "VERSION test\r\n");
  expect(socket.output).not.toContain("END\r\n");

  const output = await received(socket, "VERSION test\r\n");
  const config = ctx.config();
  const expected = ctx.queues.byName().map((queue) => `queue '${queue.name}' {\r\n${shownQueueConfig(config, queue.name).map(([key, value]) => `  ${key}=${value}\r\n`).join("")}}\r\n`);
  expect(output).toBe(`${expected.join("")}queue 'everyone' {\r\n  destination_queues=q0000,q0001\r\n}\r\nEND\r\nVERSION test\r\n`);
});
