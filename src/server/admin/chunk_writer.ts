/**
 * Text written straight into the bytes of a streamed body's next chunk (render_chunks.ts), so a
 * report of every queue makes no string per line: /metrics of 5,000 queues is 100,000 lines,
 * and as template strings joined and encoded they left 6-7 times the body's bytes to collect.
 *
 * Strings are written as UTF-8; integers as their digits, with no string made for them. A short
 * string of ASCII (a separator, a key, a fraction's digits) is copied a character at a time: a
 * native UTF-8 write costs as much for one comma as an integer's digits do. A chunk
 * is taken (`take`) once it holds `chunkBytes` or more; the buffer it was written in goes with
 * it, and the next write starts a new one. A chunk taken at less than half `chunkBytes` (a turn
 * spent, or the end) is a copy, and the buffer is kept for the next: a body shared by many
 * readers holds its chunks a while (shared_body.ts), and a 4 KiB chunk must not hold 68 KiB.
 *
 * Invariant: the bytes taken, in order, are exactly what was written, in order.
 */

/** Room past the chunk size, so a line that starts just before it does not need a bigger buffer. */
const SLACK = 4096;
/** A UTF-8 character is at most 3 bytes for each UTF-16 unit. */
const MAX_BYTES_PER_UNIT = 3;
/** Strings up to this length are copied by hand while they are ASCII. */
const SHORT_TEXT = 32;

export class ChunkWriter {
  private buffer: Buffer | null = null;
  private used = 0;

  constructor(readonly chunkBytes = 64 * 1024) {}

  /** Bytes written and not taken yet. */
  get length(): number {
    return this.used;
  }

  get full(): boolean {
    return this.used >= this.chunkBytes;
  }

  text(value: string): void {
    if (value.length <= SHORT_TEXT && this.ascii(value)) return;
    const buffer = this.room(value.length * MAX_BYTES_PER_UNIT > SLACK ? Buffer.byteLength(value) : value.length * MAX_BYTES_PER_UNIT);
    this.used += buffer.write(value, this.used);
  }

  /** A number as JavaScript writes it (`String(value)`), integers without making a string. */
  number(value: number): void {
    if (!Number.isSafeInteger(value)) return this.text(String(value));
    const buffer = this.room(17);
    let rest = value;
    if (rest < 0) {
      buffer[this.used++] = 0x2d; // -
      rest = -rest;
    }
    let digits = 1;
    for (let scale = 10; scale <= rest; scale *= 10) digits++;
    for (let i = digits - 1; i >= 0; i--) {
      buffer[this.used + i] = 0x30 + (rest % 10);
      rest = Math.floor(rest / 10);
    }
    this.used += digits;
  }

  /** Writes `value` if it is all ASCII (true); else writes nothing (false). */
  private ascii(value: string): boolean {
    const length = value.length;
    const buffer = this.room(length);
    const start = this.used;
    for (let i = 0; i < length; i++) {
      const code = value.charCodeAt(i);
      if (code >= 0x80) return false;
      buffer[start + i] = code;
    }
    this.used = start + length;
    return true;
  }

  /** The bytes written since the last `take` (empty if none). */
  take(): Uint8Array {
    const buffer = this.buffer;
    if (buffer === null) return new Uint8Array(0);
    const small = this.used < this.chunkBytes / 2;
    const bytes = small ? new Uint8Array(buffer.subarray(0, this.used)) : buffer.subarray(0, this.used);
    if (!small) this.buffer = null;
    this.used = 0;
    return bytes;
  }

  /** The buffer, with room for `bytes` more. */
  private room(bytes: number): Buffer {
    const buffer = this.buffer;
    if (buffer !== null && this.used + bytes <= buffer.length) return buffer;
    const bigger = Buffer.allocUnsafe(Math.max(this.chunkBytes + SLACK, this.used + bytes));
    if (buffer !== null) buffer.copy(bigger, 0, 0, this.used);
    this.buffer = bigger;
    return bigger;
  }
}
