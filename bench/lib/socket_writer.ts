/**
 * Writing to a Bun socket that may take only part of a buffer: what it does not take now is kept
 * and written from the socket's `drain` handler.
 *
 * Invariant: bytes reach the socket in the order they were given, none twice, none dropped; while
 * bytes are kept, later writes queue behind them instead of overtaking.
 */

/** The one thing the writer needs of a socket: a write that returns how many bytes it took. */
export interface WritableSocket {
  write(bytes: Uint8Array): number;
}

export class SocketWriter {
  private unsent: Uint8Array | null = null;

  constructor(private readonly socket: WritableSocket) {}

  /** Bytes given but not yet taken by the socket. */
  get pending(): number {
    return this.unsent?.length ?? 0;
  }

  write(bytes: Uint8Array): void {
    if (this.unsent !== null) this.unsent = Buffer.concat([this.unsent, bytes]);
    else this.offer(bytes);
  }

  /** Call from the socket's `drain` handler. */
  drain(): void {
    const unsent = this.unsent;
    this.unsent = null;
    if (unsent !== null) this.offer(unsent);
  }

  private offer(bytes: Uint8Array): void {
    const written = this.socket.write(bytes);
    this.unsent = written < bytes.length ? bytes.subarray(Math.max(written, 0)) : null;
  }
}
