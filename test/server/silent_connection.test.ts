import { afterEach, describe, expect, test } from "bun:test";
import { monotonicMs, turnClock } from "../../src/clock.ts";
import type { ServedConnection } from "../../src/server/connection.ts";
import { SilentConnection } from "../../src/server/silent_connection.ts";
import { overrunDeadline } from "../../src/server/turn_scheduler.ts";
import { bytes } from "../helpers/bytes.ts";
import { RecordingSocket } from "../helpers/recording_socket.ts";
import { nextTurn } from "../helpers/turn_clock.ts";

/** A full connection that records the calls forwarded to it. */
class RecordedConnection implements ServedConnection {
  readonly peer = "full";
  readonly calls: string[] = [];
  onData(chunk: Uint8Array): void {
    this.calls.push(`data ${chunk.length}`);
  }
  onDrain(): void {
    this.calls.push("drain");
  }
  onClose(): void {
    this.calls.push("close");
  }
  closeIfIdle(now: number): boolean {
    this.calls.push(`idle? ${now}`);
    return false;
  }
  quit(): void {
    this.calls.push("quit");
  }
}

function silent(timeoutMs: number): { socket: RecordingSocket; connection: SilentConnection; made: RecordedConnection[] } {
  const socket = new RecordingSocket("192.0.2.7");
  const made: RecordedConnection[] = [];
  const connection = new SilentConnection(socket, timeoutMs, () => {
    const full = new RecordedConnection();
    made.push(full);
    return full;
  });
  return { socket, connection, made };
}

test("the socket's own idle timer is turned off at once; nothing more is made until the client speaks", () => {
  const { socket, connection, made } = silent(0);
  expect(socket.timeouts).toEqual([0]);
  expect(connection.peer).toBe("192.0.2.7");
  connection.onDrain();
  expect(made).toEqual([]);
});

test("its first bytes make the full connection, which then gets every event", () => {
  const { connection, made } = silent(5000);
  connection.onData(bytes("ver"));
  connection.onData(bytes("sion\r\n"));
  expect(made.length).toBe(1);
  connection.onDrain();
  expect(connection.closeIfIdle(42)).toBe(false);
  connection.quit();
  connection.onClose();
  expect(made[0]!.calls).toEqual(["data 3", "data 6", "drain", "idle? 42", "quit", "close"]);
  expect(connection.peer).toBe("full");
});

test("a connection that never speaks is closed once the timeout has passed since it opened, and only once", () => {
  const start = Math.ceil(monotonicMs());
  const { socket, connection, made } = silent(5000);
  expect(connection.closeIfIdle(start + 4000)).toBe(false);
  expect(socket.ended).toBe(false);
  expect(connection.closeIfIdle(start + 5001)).toBe(true);
  expect(socket.ended).toBe(true);
  expect(connection.closeIfIdle(start + 6000)).toBe(false);
  expect(made).toEqual([]);
});

test("with no timeout, a silent connection is never closed for idleness", () => {
  const start = monotonicMs();
  const { socket, connection } = silent(0);
  expect(connection.closeIfIdle(start + 1e9)).toBe(false);
  expect(socket.ended).toBe(false);
});

test("quit ends a silent connection at once, and what arrives after is not served", () => {
  const { socket, connection, made } = silent(0);
  connection.quit();
  expect(socket.ended).toBe(true);
  connection.onData(bytes("version\r\n"));
  expect(made).toEqual([]);
});

describe("first bytes once the turn has overrun its budget", () => {
  const realClock = turnClock.now;
  afterEach(() => {
    turnClock.now = realClock;
  });

  /** Opens a turn and moves the turns' clock past its overrun. */
  async function overrunTurn(): Promise<void> {
    await nextTurn();
    const pastOverrun = overrunDeadline() + 1;
    turnClock.now = () => pastOverrun;
  }

  test("are kept, and the full connection is made with them first in the next round", async () => {
    const { connection, made } = silent(5000);
    await overrunTurn();
    connection.onData(bytes("version\r\n"));
    expect(made).toEqual([]);
    // Bytes came: not idle, whatever the timeout says.
    expect(connection.closeIfIdle(monotonicMs() + 1e9)).toBe(false);
    turnClock.now = realClock;
    await nextTurn();
    expect(made.length).toBe(1);
    expect(made[0]!.calls).toEqual(["data 9"]);
  });

  test("more bytes before that round make it at once, the kept bytes first; the round then makes nothing more", async () => {
    const { connection, made } = silent(0);
    await overrunTurn();
    connection.onData(bytes("ver"));
    connection.onData(bytes("sion\r\n"));
    expect(made.length).toBe(1);
    expect(made[0]!.calls).toEqual(["data 3", "data 6"]);
    turnClock.now = realClock;
    await nextTurn();
    expect(made.length).toBe(1);
    expect(made[0]!.calls).toEqual(["data 3", "data 6"]);
  });

  test("a connection that closes or quits before that round is never made", async () => {
    const closed = silent(0);
    const quit = silent(0);
    await overrunTurn();
    closed.connection.onData(bytes("version\r\n"));
    quit.connection.onData(bytes("version\r\n"));
    closed.connection.onClose();
    quit.connection.quit();
    expect(quit.socket.ended).toBe(true);
    turnClock.now = realClock;
    await nextTurn();
    expect(closed.made).toEqual([]);
    expect(quit.made).toEqual([]);
  });
});
