/**
 * A fake client socket for driving a `Connection` without a network: it records what the
 * connection asks of it (timeouts, pause, end) and what it writes, takes at most `room` bytes in
 * all (to play a client that stops reading), and claims to be connected from `remoteAddress`
 * (so a test can play a peer on another machine without leaving loopback).
 */
import type { ClientSocket } from "../../src/server/connection.ts";

export class RecordingSocket implements ClientSocket {
  readonly timeouts: number[] = [];
  ended = false;
  paused = false;
  written = 0;
  /** What was written, as latin1 text (protocol text is one byte per char). */
  output = "";
  room = Infinity;

  constructor(readonly remoteAddress = "127.0.0.1") {}

  write(data: Uint8Array, offset = 0, length = data.length - offset): number {
    const taken = Math.min(length, this.room - this.written);
    this.written += taken;
    this.output += Buffer.from(data.buffer, data.byteOffset + offset, taken).toString("latin1");
    return taken;
  }
  end(): void {
    this.ended = true;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  timeout(seconds: number): void {
    this.timeouts.push(seconds);
  }
}
