/**
 * A client connection that has sent nothing yet: the socket, the time it opened and the settings
 * it opened under, until its first bytes make it a full Connection (connection.ts), which then
 * serves everything. Bun runs the open handler of a burst of connects in one event-loop turn
 * (hundreds of them when 19,500 connect at once), and a Connection's parts (its parser, outbox,
 * open reads, closures) are made here only for a connection that speaks; an idle one never costs
 * them, in time or memory.
 *
 * Invariants: the socket's own idle timer is turned off at once, as a Connection does; a silent
 * connection owes nothing and holds nothing, so it is closed for idleness `idleTimeoutMs` after it
 * opened (checked as a Connection's idleness is), ends at once on `quit`, and gives nothing back
 * when it closes. Once made, the Connection is the only one to handle the socket's events.
 */
import { monotonicMs } from "../clock.ts";
import type { ClientSocket, ServedConnection } from "./connection.ts";

export class SilentConnection implements ServedConnection {
  private connection: ServedConnection | null = null;
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
    this.connection ??= this.speak();
    this.connection.onData(chunk);
  }

  onDrain(): void {
    this.connection?.onDrain();
  }

  onClose(): void {
    this.ended = true;
    this.connection?.onClose();
  }

  closeIfIdle(now: number): boolean {
    if (this.connection !== null) return this.connection.closeIfIdle(now);
    if (this.ended || this.idleTimeoutMs <= 0 || now - this.openedMs < this.idleTimeoutMs) return false;
    this.ended = true;
    this.socket.end();
    return true;
  }

  quit(): void {
    if (this.connection !== null) return this.connection.quit();
    this.ended = true;
    this.socket.end();
  }
}
