/**
 * A client connection that has sent nothing yet: the socket, the time it opened and the settings
 * it opened under, until its first bytes make it a full Connection (connection.ts), which then
 * serves everything. Bun runs the open handler of a burst of connects in one event-loop turn
 * (hundreds of them when 19,500 connect at once), and a Connection's parts (its parser, outbox,
 * open reads, closures) are made here only for a connection that speaks; an idle one never costs
 * them, in time or memory.
 *
 * First bytes that come once the turn has overrun its budget (turn_scheduler.ts: 10,000 clients
 * sending their first request at the same moment made one turn of 58-74 ms, about 6 µs each to
 * make their Connections) are kept, and the Connection is made in the prompt lane (`soon`), first
 * in the next round, as the light request they most likely hold would wait there anyway. More
 * bytes before then make it at once: a connection keeps at most one chunk (one socket read) unmade.
 *
 * Invariants: the socket's own idle timer is turned off at once, as a Connection does; a silent
 * connection owes nothing and holds at most that first chunk, so it is closed for idleness
 * `idleTimeoutMs` after it opened unless bytes came (checked as a Connection's idleness is), ends
 * at once on `quit`, and gives nothing back when it closes. The kept chunk reaches the Connection
 * before any later one. Once made, the Connection is the only one to handle the socket's events.
 */
import { monotonicMs } from "../clock.ts";
import type { ClientSocket, ServedConnection } from "./connection.ts";
import { overrunDeadline, soon, turnClock } from "./turn_scheduler.ts";

export class SilentConnection implements ServedConnection {
  private connection: ServedConnection | null = null;
  /** First bytes that came once the turn had overrun: the Connection is made with them in the prompt lane. */
  private firstChunk: Uint8Array | null = null;
  private readonly openedMs = monotonicMs();
  private ended = false;

  constructor(
    private readonly socket: ClientSocket,
    /** Close the connection after this long without traffic (0: never). */
    private readonly idleTimeoutMs: number,
    /** Makes the full connection, at its first bytes. */
    private readonly speak: () => ServedConnection,
  ) {
    // Bun closes a socket idle for 120 s unless told otherwise; idleness is checked by closeIfIdle.
    socket.timeout(0);
  }

  get peer(): string {
    return this.connection?.peer ?? this.socket.remoteAddress;
  }

  onData(chunk: Uint8Array): void {
    if (this.ended) return;
    if (this.connection === null && this.firstChunk === null && turnClock.now() >= overrunDeadline()) {
      this.firstChunk = chunk;
      return soon(() => {
        if (!this.ended && this.connection === null) this.becomeConnection();
      });
    }
    (this.connection ?? this.becomeConnection()).onData(chunk);
  }

  /** Makes the full connection and gives it the first chunk kept for it, if any. */
  private becomeConnection(): ServedConnection {
    const connection = (this.connection = this.speak());
    const first = this.firstChunk;
    this.firstChunk = null;
    if (first !== null) connection.onData(first);
    return connection;
  }

  onDrain(): void {
    this.connection?.onDrain();
  }

  onClose(): void {
    this.ended = true;
    this.firstChunk = null;
    this.connection?.onClose();
  }

  closeIfIdle(now: number): boolean {
    if (this.connection !== null) return this.connection.closeIfIdle(now);
    if (this.ended || this.firstChunk !== null || this.idleTimeoutMs <= 0 || now - this.openedMs < this.idleTimeoutMs) return false;
    this.ended = true;
    this.socket.end();
    return true;
  }

  quit(): void {
    if (this.connection !== null) return this.connection.quit();
    this.ended = true;
    this.firstChunk = null;
    this.socket.end();
  }
}
