/**
 * The replies of one connection, in request order, written to the socket with backpressure.
 *
 * A reply that isn't known yet (a STORED waiting for fsync, a blocking get) holds its place with
 * `defer()`; later replies queue behind it. `flush` coalesces small replies into one socket
 * write and writes large item data without copying; whatever the socket doesn't take is kept, in
 * order, until `drained()`.
 */
import { Deque } from "../queue/deque.ts";

export interface ReplySink {
  /** Bytes the socket took (may be fewer than given), or -1 if it is closed. */
  write(data: Uint8Array): number;
}

export interface Deferred {
  chunks: Uint8Array[] | null;
}

const COALESCE_LIMIT = 64 * 1024;

export class Outbox {
  private readonly ready = new Deque<Uint8Array>();
  private readyBytes = 0;
  private readonly waiting = new Deque<Deferred>();
  private blocked = false;
  private dead = false;
  bytesWritten = 0;

  constructor(private readonly sink: ReplySink) {}

  /** Bytes queued and not yet taken by the socket. */
  get backlog(): number {
    return this.readyBytes;
  }

  /** Nothing is queued or waiting to be decided. */
  get idle(): boolean {
    return this.readyBytes === 0 && this.waiting.length === 0;
  }

  push(...chunks: Uint8Array[]): void {
    if (this.waiting.length > 0) this.waiting.push({ chunks });
    else for (const chunk of chunks) this.enqueue(chunk);
  }

  defer(): Deferred {
    const deferred: Deferred = { chunks: null };
    this.waiting.push(deferred);
    return deferred;
  }

  resolve(deferred: Deferred, chunks: Uint8Array[]): void {
    deferred.chunks = chunks;
    for (let head = this.waiting.peek(); head?.chunks != null; head = this.waiting.peek()) {
      this.waiting.shift();
      for (const chunk of head.chunks) this.enqueue(chunk);
    }
  }

  /** Writes as much as the socket takes. */
  flush(): void {
    while (!this.blocked && !this.dead && this.ready.length > 0) {
      const buffer = this.nextWrite();
      const written = this.sink.write(buffer);
      if (written < 0) {
        this.dead = true;
        this.ready.clear();
        this.readyBytes = 0;
        return;
      }
      this.bytesWritten += written;
      this.readyBytes -= written;
      if (written < buffer.length) {
        this.ready.unshift(buffer.subarray(written));
        this.blocked = true;
      }
    }
  }

  /** The socket can take more. */
  drained(): void {
    this.blocked = false;
    this.flush();
  }

  private enqueue(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.ready.push(chunk);
    this.readyBytes += chunk.length;
  }

  /** Takes the next buffer to write: one big chunk as it is, or several small ones joined. */
  private nextWrite(): Uint8Array {
    const first = this.ready.shift()!;
    if (first.length >= COALESCE_LIMIT || this.ready.length === 0) return first;
    const parts = [first];
    let total = first.length;
    for (let next = this.ready.peek(); next !== undefined && total + next.length <= COALESCE_LIMIT; next = this.ready.peek()) {
      parts.push(this.ready.shift()!);
      total += next.length;
    }
    return parts.length === 1 ? first : Buffer.concat(parts, total);
  }
}
