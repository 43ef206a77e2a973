/**
 * Incremental framing of the memcache text protocol: turns a byte stream into request frames.
 *
 * Input may arrive split at any byte or with many requests per chunk; `push` never parses, `next`
 * returns one frame or null when more bytes are needed. Data blocks are binary-safe: a view of the
 * received chunk when they lie in one, a copy when they span several (whoever keeps an item
 * decides whether to copy a view, see ItemStore). A big block, once all of it is here, is copied
 * into place (and its CRC worked out, data_crc.ts) a slice per call, over several turns (`busy`):
 * a 64 MiB block copied at once, page faults and CRC included, was one 65-90 ms turn. Nothing
 * here allocates beyond one line of `maxLineLength` or one data block of `maxRequestSize`; a
 * `set` line costs one string, its key.
 *
 * A connection whose first byte is BINARY_REQUEST_MAGIC speaks memcache's binary protocol: once
 * its first request header is in, it is returned as a BinaryFrame and nothing more is read
 * (binary_protocol.ts answers it).
 */
import { ASSEMBLE_FROM, assembleNext, newAssembly, type Assembly } from "../assembly.ts";
import { LineTokens } from "./line_tokens.ts";

export interface SetFrame {
  readonly kind: "set";
  readonly key: string;
  /** The client's 32-bit flags, stored with the item. */
  readonly flags: number;
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

/** The stream is memcache's binary protocol: answer its first request `header` in it, and close. */
export interface BinaryFrame {
  readonly kind: "binary";
  readonly header: Uint8Array;
}

export type Frame = SetFrame | LineFrame | UnsupportedStorageFrame | BadRequestFrame | FatalFrame | BinaryFrame;

/** The first byte of every binary-protocol request; no text command starts with it. */
export const BINARY_REQUEST_MAGIC = 0x80;
/** A binary-protocol request header (all a binary request is framed by here). */
export const BINARY_HEADER_BYTES = 24;

const STORAGE_COMMANDS = ["set", "add", "replace", "append", "prepend", "cas"];
const NEWLINE = 10;
const CR = 13;
const BAD_FORMAT = "CLIENT_ERROR bad command line format";
const MAX_FLAGS = 0xffff_ffff;

/**
 * Whether `byte` (-1 for none) may follow a command's first letters in a longer command name
 * (`settings`, `set_x`): a letter, a digit or `_`. Any other byte glued to a storage command
 * (`set\0q`, `set,q`) makes a storage header we can't read.
 */
function isNameByte(byte: number): boolean {
  return byte === -1 || byte === 95 || (byte >= 48 && byte <= 57) || ((byte | 0x20) >= 97 && (byte | 0x20) <= 122);
}

/**
 * Chunks smaller than this are left to the collector: detaching one costs about 1 µs (its
 * ArrayBuffer object is made for it), and 5,000 slowloris connections closing at once held
 * 125,000 chunks of a byte (a 137 ms turn); what is worth giving back at once is the big ones.
 */
const GIVE_BACK_FROM = 16 * 1024;

/**
 * Gives the memory of `bytes` back now (detaches its buffer) if it is big and all of an
 * ArrayBuffer of its own: a socket chunk nothing else can see. The caller knows it is unused.
 */
export function giveBack(bytes: Uint8Array): void {
  if (bytes.byteLength >= GIVE_BACK_FROM && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    bytes.buffer.transfer(0);
  }
}

/**
 * The tokens of the line being parsed, one instance for every connection's parser: a line is
 * scanned and its tokens read within one `next` call, so none outlives it, and a connection
 * costs no token arrays of its own (19,500 connections opening at once each made three typed
 * arrays, and a connection that once sent a `get` of 4,000 keys kept 32 KB of them).
 */
const lineTokens = new LineTokens();

/** The header of a storage command whose data block hasn't been read yet. */
interface PendingBlock {
  /** The command, lower-cased; `set` is the one we serve. */
  readonly command: string;
  readonly key: string;
  readonly flags: number;
  readonly exptime: number;
  readonly bytes: number;
  readonly noreply: boolean;
  /** Flags (32-bit unsigned) and exptime are numbers. */
  readonly wellFormed: boolean;
  /** A big block being copied into place (once all of it is here), or null. */
  assembly: Assembly | null;
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
  /** The stream's first byte was looked at (for the binary protocol's magic). */
  private started = false;

  constructor(
    private readonly maxLineLength: number,
    /** The largest data block accepted; a connection may lower it for a while (access.ts). */
    public maxRequestSize: number,
  ) {}

  /**
   * `next` returned null with work it can go on with now (a big block being copied into place a
   * slice per call): call it again, in a later turn, without waiting for more input.
   */
  get busy(): boolean {
    return !this.failed && (this.block?.assembly ?? null) !== null;
  }

  /** Bytes received and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered + (this.block?.assembly?.filled ?? 0);
  }

  /** The size of the data block (and its line end) announced by a storage header still being read, or 0. */
  get announcedBytes(): number {
    return this.block === null ? 0 : this.block.bytes + 2;
  }

  push(chunk: Uint8Array): void {
    if (this.failed || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** Whether the next request is a complete command line longer than `bytes` (a look without parsing it). */
  nextLineLongerThan(bytes: number): boolean {
    return !this.failed && this.block === null && this.findNewline() > bytes;
  }

  next(): Frame | null {
    if (this.failed) return null;
    if (!this.started && this.buffered > 0) {
      if (this.peekByte(0) === BINARY_REQUEST_MAGIC) return this.binaryHeader();
      this.started = true;
    }
    if (this.block !== null) return this.readBlock(this.block);
    const newline = this.findNewline();
    if (newline === -1) {
      return this.buffered > this.maxLineLength ? this.fail("CLIENT_ERROR line too long") : null;
    }
    if (newline > this.maxLineLength) return this.fail("CLIENT_ERROR line too long");
    this.tokenizeLine(newline + 1);
    const tokens = lineTokens;
    const storage = STORAGE_COMMANDS.find((command) => tokens.is(0, command));
    if (storage !== undefined) return this.startBlock(storage);
    // `set\0q 0 0 5`: a data block may follow, of a length we can't read; it must not run.
    if (STORAGE_COMMANDS.some((command) => !isNameByte(tokens.byteAfterPrefix(0, command)))) return this.fail(BAD_FORMAT);
    const command = tokens.count === 0 ? "" : tokens.text(0).toLowerCase();
    return { kind: "line", command, args: tokens.texts(1) };
  }

  /** Consumes a line of `length` bytes (newline included) and tokenizes it, without copying if it can. */
  private tokenizeLine(length: number): void {
    const first = this.chunks[0]!;
    const inFirst = first.length - this.offset >= length;
    const bytes = inFirst ? first : this.take(length);
    const start = inFirst ? this.offset : 0;
    let end = start + length - 1;
    if (end > start && bytes[end - 1] === CR) end--;
    lineTokens.scan(bytes, start, end);
    if (inFirst) this.advance(length);
  }

  private startBlock(command: string): Frame | null {
    // <command> <key> <flags> <exptime> <bytes> [cas unique (cas only)] [noreply]
    const tokens = lineTokens;
    const bytes = tokens.number(4);
    if (bytes === null) return this.fail(BAD_FORMAT);
    if (bytes > this.maxRequestSize) return this.fail("SERVER_ERROR object too large");
    // As memcached does (1.6.40 on): tokens after <bytes> are ignored, but a last `noreply`.
    const noreply = tokens.is(tokens.count - 1, "noreply");
    const flags = tokens.number(2);
    const exptime = tokens.number(3, true);
    const wellFormed = flags !== null && flags <= MAX_FLAGS && exptime !== null;
    this.block = { command, key: tokens.text(1), flags: flags ?? 0, exptime: exptime ?? 0, bytes, noreply, wellFormed, assembly: null };
    return this.readBlock(this.block);
  }

  private readBlock(block: PendingBlock): Frame | null {
    const served = block.command === "set" && block.wellFormed;
    if (served && block.bytes >= ASSEMBLE_FROM) return this.assemble(block);
    if (this.buffered < block.bytes + 2) return null;
    return this.finishBlock(block, this.take(block.bytes));
  }

  /**
   * A big block: nothing until all of it (and its line end) is here, so a client stalled halfway
   * costs its chunks only; then a slice per call copied into place, with its CRC.
   */
  private assemble(block: PendingBlock): Frame | null {
    let assembly = block.assembly;
    if (assembly === null) {
      if (this.buffered < block.bytes + 2) return null;
      assembly = block.assembly = newAssembly(block.bytes);
    }
    if (!assembleNext(assembly, (into, at, count) => this.copyOut(into, at, count))) return null;
    return this.finishBlock(block, assembly.data);
  }

  private finishBlock(block: PendingBlock, data: Uint8Array): Frame {
    this.block = null;
    if (this.peekByte(0) !== CR || this.peekByte(1) !== NEWLINE) return this.fail("CLIENT_ERROR bad data chunk");
    this.skip(2);
    if (block.command !== "set") return { kind: "unsupported-storage", command: block.command, noreply: block.noreply };
    if (!block.wellFormed) return { kind: "bad-request", reply: BAD_FORMAT, noreply: block.noreply };
    return { kind: "set", key: block.key, flags: block.flags, exptime: block.exptime, data, noreply: block.noreply };
  }

  /** The first binary request's header once it is all here (a copy); the stream ends there. */
  private binaryHeader(): BinaryFrame | null {
    if (this.buffered < BINARY_HEADER_BYTES) return null;
    const header = this.take(BINARY_HEADER_BYTES).slice();
    this.fail("");
    return { kind: "binary", header };
  }

  private fail(reply: string): FatalFrame {
    this.failed = true;
    this.chunks = [];
    this.buffered = 0;
    return { kind: "fatal", reply };
  }

  /**
   * Drops every buffered byte (the connection is gone: the chunks are its own) and gives the
   * memory of the big chunks no frame has a view into, and of a block being copied into place,
   * back at once (`giveBack`): a socket chunk is an ArrayBuffer of its own, freed only by a full
   * collection otherwise, and the asynchronous ones the memory pacer asks for were seen to leave
   * 330 MiB of a closed attack's half-sent sets resident. A chunk is detached only if nothing of
   * it was consumed (a data block may be a view into it).
   */
  discard(): void {
    for (let i = this.offset === 0 ? 0 : 1; i < this.chunks.length; i++) giveBack(this.chunks[i]!);
    const assembled = this.block?.assembly?.data;
    if (assembled !== undefined) giveBack(assembled);
    this.chunks = [];
    this.offset = 0;
    this.buffered = 0;
    this.scanned = 0;
    this.block = null;
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
    this.copyOut(out, 0, n);
    return out;
  }

  /**
   * Consumes `n` buffered bytes into `out` from `at`. A big chunk copied whole, from its first
   * byte, that is a buffer of its own is given back at once (detached): nothing else can see it,
   * and left to the collector a 64 MiB set's chunks would stay beside its copy.
   */
  private copyOut(out: Uint8Array, at: number, n: number): void {
    for (let end = at + n; at < end; ) {
      const chunk = this.chunks[0]!;
      const count = Math.min(end - at, chunk.length - this.offset);
      out.set(chunk.subarray(this.offset, this.offset + count), at);
      const whole = this.offset === 0 && count === chunk.length;
      at += count;
      this.advance(count);
      if (whole) giveBack(chunk);
    }
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
