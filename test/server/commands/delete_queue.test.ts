/**
 * `delete` of a queue whose journal has many segments (commands/queue_commands.ts deleteQueue):
 * its journal's fsyncs run off the event loop (retire_task.ts), so while they are slow the other
 * clients are served; its reply (DELETED, `+0` on the text port) waits until nothing of the queue
 * can come back, and a set pipelined right after it makes the queue again at once, its STORED
 * behind the DELETED. Run on Connections over RecordingSockets and real queues.
 */
import { afterEach, expect, test } from "bun:test";
import { fileSystem } from "../../../src/journal/files.ts";
import { flushJournals } from "../../../src/journal/flush_scheduler.ts";
import { Connection } from "../../../src/server/connection.ts";
import type { FrontEnd } from "../../../src/server/front_end.ts";
import { memcache } from "../../../src/server/memcache/front_end.ts";
import { text } from "../../../src/server/text/text_front_end.ts";
import { bytes } from "../../helpers/bytes.ts";
import { RecordingSocket } from "../../helpers/recording_socket.ts";
import { contextPerTest } from "../../helpers/server_context.ts";
import { nextTurn } from "../../helpers/turn_clock.ts";
import { backgroundRemovals } from "../../../src/journal/deferred_removal.ts";

const context = contextPerTest();
const real = { ...fileSystem };
/** fsyncs made off the event loop held until the test lets them go (a slow disk). */
let held: Array<() => void> = [];

afterEach(() => {
  Object.assign(fileSystem, real);
  release();
});

function release(): void {
  const waiting = held;
  held = [];
  for (const run of waiting) run();
}

function connect<F>(ctx: ReturnType<typeof context>, frontEnd: FrontEnd<F>) {
  const socket = new RecordingSocket();
  const connection = new Connection(socket, ctx, frontEnd, 0, 1 << 20);
  return { socket, send: (request: string) => connection.onData(bytes(request)) };
}

/** Waits, a turn at a time, until `socket` has been sent `expected` (at most 1,000 turns). */
async function replied(socket: RecordingSocket, expected: string): Promise<void> {
  for (let turns = 0; socket.output.length < expected.length && turns < 1000; turns++) await nextTurn();
  expect(socket.output).toBe(expected);
}

for (const [frontEnd, request, reply, version, versionReply] of [
  [memcache, "delete q\r\nset q 0 0 3\r\nnew\r\n", "DELETED\r\nSTORED\r\n", "version\r\n", "VERSION test\r\n"],
  [text, "delete q\nput q:\nnew\n\n", "+0\n+1\n", "version\n", ":test\n"],
] as const) {
  test(`${frontEnd.name}: while the deleted journal's fsyncs are slow, others are served; the reply waits for them, and a set after it makes the queue again at once`, async () => {
    const ctx = context(`max_journal_size = "16KiB"\n`);
    for (let i = 0; i < 200; i++) {
      ctx.queues.add("q", bytes(`${i}`.padEnd(500, "x")), 0, Date.now());
      if (i % 20 === 19) flushJournals();
    }
    flushJournals();
    fileSystem.fsyncAsync = (fd, done) => void held.push(() => real.fsyncAsync(fd, done));
    const client = connect(ctx, frontEnd as FrontEnd<unknown>);
    client.send(request);
    await nextTurn();
    // The queue is gone and made again by the set after the delete; the delete's answer waits.
    expect(ctx.queues.get("q")?.stats().items).toBe(1);
    expect(client.socket.output).toBe("");
    const other = connect(ctx, frontEnd as FrontEnd<unknown>);
    other.send(version);
    await replied(other.socket, versionReply);
    expect(held.length).toBeGreaterThan(0);
    fileSystem.fsyncAsync = real.fsyncAsync;
    release();
    await backgroundRemovals();
    await replied(client.socket, reply);
  });
}
