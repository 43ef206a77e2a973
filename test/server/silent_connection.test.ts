import { expect, test } from "bun:test";
import { monotonicMs } from "../../src/clock.ts";
import type { ServedConnection } from "../../src/server/connection.ts";
import { SilentConnection } from "../../src/server/silent_connection.ts";
import { bytes } from "../helpers/bytes.ts";
import { RecordingSocket } from "../helpers/recording_socket.ts";

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
