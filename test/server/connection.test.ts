import { describe, expect, test } from "bun:test";
import { Commit } from "../../src/journal/commit.ts";
import { Connection, type ClientSocket } from "../../src/server/connection.ts";
import type { ServerContext } from "../../src/server/context.ts";
import { MemoryPacer } from "../../src/server/memory_pacer.ts";
import { ServerStats } from "../../src/server/stats.ts";

/** A socket that records what the connection asks of it. */
class RecordingSocket implements ClientSocket {
  readonly timeouts: number[] = [];
  ended = false;
  written = 0;
  write(data: Uint8Array, offset = 0, length = data.length - offset): number {
    this.written += length;
    return length;
  }
  end(): void {
    this.ended = true;
  }
  pause(): void {}
  resume(): void {}
  timeout(seconds: number): void {
    this.timeouts.push(seconds);
  }
}

// Writing replies touches only the counters; nothing here reaches the queues.
const ctx = { stats: new ServerStats(), pacer: new MemoryPacer() } as unknown as ServerContext;

describe("Connection idle timeout", () => {
  test("timeout = 0 turns the socket's own idle timer off (Bun closes idle sockets at 120 s by default)", () => {
    const socket = new RecordingSocket();
    new Connection(socket, ctx, 0, 1024);
    expect(socket.timeouts).toEqual([0]);
  });

  test("a configured timeout is armed at once", () => {
    const socket = new RecordingSocket();
    new Connection(socket, ctx, 30, 1024);
    expect(socket.timeouts).toEqual([30]);
  });

  test("an idle connection is closed; one that still owes a reply is kept and the timer re-armed", () => {
    const idle = new RecordingSocket();
    new Connection(idle, ctx, 5, 1024).onIdleTimeout();
    expect(idle.ended).toBe(true);

    const busy = new RecordingSocket();
    const connection = new Connection(busy, ctx, 5, 1024);
    const commit = new Commit();
    connection.outbox.pushAfter(commit, ["VALUE q 0 1\r\nx\r\nEND\r\n"], null);
    connection.onIdleTimeout();
    expect(busy.ended).toBe(false);
    expect(busy.timeouts).toEqual([5, 5]);
    commit.settle("durable");
  });
});
