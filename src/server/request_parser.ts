/**
 * Incremental framing of the memcache text protocol: turns a byte stream into request frames.
 *
 * Input may arrive split at any byte or with many requests per chunk; `push` never parses, `next`
 * returns one frame or null when more bytes are needed. Data blocks are binary-safe and taken
 * as views of the received chunk where the item fills most of it, copied otherwise (a small view
 * would pin its whole chunk while the item waits in a queue). Nothing here allocates beyond one
 * line of `maxLineLength` or one data block of `maxRequestSize`.
 */

export interface SetFrame {
  readonly kind: "set";
  readonly key: string;
  readonly exptime: number;
  readonly data: Uint8Array;
  readonly noreply: boolean;
}

export interface LineFrame {
  readonly kind: "line";
  /** The command name, lower-cased. */
  readonly command: string;
  readonly args: readonly string[];
}

/** A storage command we don't implement (`add`, `cas`, ...); its data block was skipped. */
export interface UnsupportedStorageFrame {
  readonly kind: "unsupported-storage";
  readonly command: string;
  readonly noreply: boolean;
}

/** A request with a bad header whose data block was skipped; the stream is still in step. */
export interface BadRequestFrame {
  readonly kind: "bad-request";
  readonly reply: string;
  readonly noreply: boolean;
}

/** The stream can't be trusted any more: send `reply` and close the connection. */
export interface FatalFrame {
  readonly kind: "fatal";
  readonly reply: string;
}

export type Frame = SetFrame | LineFrame | UnsupportedStorageFrame | BadRequestFrame | FatalFrame;

const STORAGE_COMMANDS = new Set(["set", "add", "replace", "append", "prepend", "cas"]);
const NEWLINE = 10;
const CR = 13;

interface PendingBlock {
  readonly header: string[];
  readonly bytes: number;
  readonly noreply: boolean;
}

export class RequestParser {
  private chunks: Uint8Array[] = [];
  /** Bytes of chunks[0] already consumed. */
  private offset = 0;
  private buffered = 0;
  /** Bytes at the front already searched for a newline without finding one. */
  private scanned = 0;
  private block: PendingBlock | null = null;
  private failed = false;

  constructor(
    private readonly maxLineLength: number,
    private readonly maxRequestSize: number,
  ) {}

  /** Bytes received and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): void {
    if (this.failed || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  next(): Frame | null {
    if (this.failed) return null;
    if (this.block !== null) return this.readBlock(this.block);
    const newline = this.findNewline();
    if (newline === -1) {
      return this.buffered > this.maxLineLength ? this.fail("CLIENT_ERROR line too long") : null;
    }
    if (newline > this.maxLineLength) return this.fail("CLIENT_ERROR line too long");
    const line = this.take(newline + 1);
    const end = line.length >= 2 && line[line.length - 2] === CR ? line.length - 2 : line.length - 1;
    const tokens = splitTokens(latin1(line, end));
    const command = (tokens[0] ?? "").toLowerCase();
    if (!STORAGE_COMMANDS.has(command)) return { kind: "line", command, args: tokens.slice(1) };
    return this.startBlock(tokens);
  }

  private startBlock(tokens: string[]): Frame | null {
    // <command> <key> <flags> <exptime> <bytes> [cas unique (cas only)] [noreply]
    const bytesToken = tokens[4];
    if (bytesToken === undefined || !isDigits(bytesToken, 0)) return this.fail("CLIENT_ERROR bad command line format");
    const bytes = Number(bytesToken);
    if (bytes > this.maxRequestSize) return this.fail("SERVER_ERROR object too large");
    const noreply = tokens[tokens.length - 1] === "noreply";
    this.block = { header: tokens, bytes, noreply };
    return this.readBlock(this.block);
  }

  private readBlock(block: PendingBlock): Frame | null {
    if (this.buffered < block.bytes + 2) return null;
    this.block = null;
    const data = this.take(block.bytes);
    if (this.peekByte(0) !== CR || this.peekByte(1) !== NEWLINE) return this.fail("CLIENT_ERROR bad data chunk");
    this.skip(2);
    const [rawCommand, key, flags, exptime] = block.header as [string, string, string, string];
    const command = rawCommand.toLowerCase();
    if (command !== "set") return { kind: "unsupported-storage", command, noreply: block.noreply };
    const extra = block.header.length - (block.noreply ? 6 : 5);
    if (!isDigits(flags, 0) || !isDigits(exptime, exptime.startsWith("-") ? 1 : 0) || extra !== 0) {
      return { kind: "bad-request", reply: "CLIENT_ERROR bad command line format", noreply: block.noreply };
    }
    return { kind: "set", key, exptime: Number(exptime), data: ownedData(data), noreply: block.noreply };
  }

  private fail(reply: string): FatalFrame {
    this.failed = true;
    this.chunks = [];
    this.buffered = 0;
    return { kind: "fatal", reply };
  }

  /** Offset (from the first unconsumed byte) of the next "\n", or -1. */
  private findNewline(): number {
    let base = 0;
    for (let i = 0; i < this.chunks.length; i++) {
      const chunk = this.chunks[i]!;
      const start = i === 0 ? this.offset : 0;
      const length = chunk.length - start;
      if (base + length > this.scanned) {
        const from = start + Math.max(0, this.scanned - base);
        const found = chunk.indexOf(NEWLINE, from);
        if (found !== -1) {
          this.scanned = 0;
          return base + (found - start);
        }
      }
      base += length;
    }
    this.scanned = base;
    return -1;
  }

  /** Consumes `n` buffered bytes: a view when they lie in one chunk, else a copy. */
  private take(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first !== undefined && first.length - this.offset >= n) {
      const view = first.subarray(this.offset, this.offset + n);
      this.advance(n);
      return view;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const count = Math.min(n - filled, chunk.length - this.offset);
      out.set(chunk.subarray(this.offset, this.offset + count), filled);
      filled += count;
      this.advance(count);
    }
    return out;
  }

  /** The buffered byte `at` places from the front (which must exist). */
  private peekByte(at: number): number {
    let index = this.offset + at;
    for (const chunk of this.chunks) {
      if (index < chunk.length) return chunk[index]!;
      index -= chunk.length;
    }
    return -1;
  }

  private skip(n: number): void {
    while (n > 0) {
      const count = Math.min(n, this.chunks[0]!.length - this.offset);
      this.advance(count);
      n -= count;
    }
  }

  private advance(n: number): void {
    this.offset += n;
    this.buffered -= n;
    if (this.offset === this.chunks[0]!.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}

/** The first `end` bytes of `bytes` as a string, one char per byte. */
function latin1(bytes: Uint8Array, end: number): string {
  const buffer = bytes instanceof Buffer ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return buffer.toString("latin1", 0, end);
}

/** Space-separated tokens; runs of spaces count as one. */
function splitTokens(text: string): string[] {
  const tokens = text.split(" ");
  return tokens.includes("") ? tokens.filter((token) => token.length > 0) : tokens;
}

/** True if `text` from `start` on is one or more ASCII digits. */
function isDigits(text: string, start: number): boolean {
  if (text.length <= start) return false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Keeps a view only when the item is most of the buffer it lives in; copies small items. */
function ownedData(data: Uint8Array): Uint8Array {
  return data.length * 2 >= data.buffer.byteLength ? data : new Uint8Array(data);
}
