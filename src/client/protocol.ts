/**
 * The client's side of the memcache text protocol (kestrel dialect): request bytes out, and one
 * incremental reply reader in. This is the only TypeScript parser of memcache replies in the
 * repository; the test and benchmark clients read through it too.
 *
 * `ReplyReader` takes the socket's chunks as they come (split anywhere) and gives back elements:
 * a reply line, or a whole VALUE block (header, data, CRLF). Invariants:
 *   - bytes are consumed in order and each byte belongs to exactly one element;
 *   - a VALUE's data is a view, never overwritten later: of the caller's chunk when the block lay
 *     in one chunk (no copy), else of a buffer the reader owns and never writes over again;
 *   - a stream that can no longer be trusted (a data block not followed by CRLF, a line longer
 *     than the limit) throws `MalformedReply`; a VALUE header that does not parse is handed out
 *     as a plain line, for the caller to reject.
 * `ReplyCollector` groups elements into the reply one request expects (a line; VALUE blocks up
 * to END; lines up to END). Nothing here knows about sockets, servers or time.
 */
import { Buffer } from "node:buffer";

/** A server's status (Kestrel 2), as the memcache `status` command reports it. */
export type ServerStatus = "up" | "readonly" | "quiescent" | "writeavoid";
export const SERVER_STATUSES: readonly ServerStatus[] = ["up", "readonly", "quiescent", "writeavoid"];

const CR = 13;
const LF = 10;
/** Longest reply line the reader accepts (VALUE headers, STAT lines and errors are far shorter). */
export const MAX_LINE_BYTES = 64 * 1024;

// Requests

const encoder = new TextEncoder();
const ascii = (text: string): Uint8Array => Buffer.from(text, "latin1");
const CRLF = ascii("\r\n");
const SPACE = 32;
const VALUE_PREFIX = ascii("VALUE ");
/** Reply lines common enough to hand out as constants rather than decode each time. */
const COMMON_LINES = ["END", "STORED", "NOT_STORED", "UP"].map((line) => ({ line, bytes: ascii(line) }));

/** `set <queue> <flags> <exptime> <bytes>` with its data block, in one buffer. */
export function setRequest(queue: string, data: Uint8Array, exptimeSeconds = 0, flags = 0): Uint8Array {
  return Buffer.concat([ascii(`set ${queue} ${flags} ${exptimeSeconds} ${data.length}\r\n`), data, CRLF]);
}

/** Kestrel's get options, written after the queue name (`q/close/open/t=100`). */
export interface GetOptions {
  readonly close?: boolean;
  readonly open?: boolean;
  readonly abort?: boolean;
  readonly peek?: boolean;
  /** Wait up to this long for an item (`/t=`); 0 or absent: answer at once. */
  readonly waitMs?: number;
}

export function getKey(queue: string, options: GetOptions = {}): string {
  let key = queue;
  if (options.close) key += "/close";
  if (options.open) key += "/open";
  if (options.abort) key += "/abort";
  if (options.peek) key += "/peek";
  if (options.waitMs !== undefined && options.waitMs > 0) key += `/t=${Math.ceil(options.waitMs)}`;
  return key;
}

export function getRequest(queue: string, options: GetOptions = {}): Uint8Array {
  return ascii(`get ${getKey(queue, options)}\r\n`);
}

export const STATUS_REQUEST = ascii("status\r\n");

/**
 * Throws a TypeError for a queue name that would break the request line (empty, longer than 250
 * characters, a space, a control character, or a '/', which starts get options). What else a server
 * refuses comes back as a RequestError naming it.
 */
export function checkQueueName(queue: string): void {
  if (queue === "" || queue.length > 250 || /[\s\x00-\x1f\x7f/]/.test(queue)) throw new TypeError(`not a queue name: ${JSON.stringify(queue)}`);
}

/** The UTF-8 bytes of a string item (items themselves are opaque bytes). */
export function itemBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

// Replies, element by element

export interface Value {
  readonly key: string;
  readonly flags: number;
  /** The fifth field of a `gets` reply, when the server sent one. */
  readonly cas: string | null;
  readonly data: Uint8Array;
}

export type ReplyElement = { readonly kind: "line"; readonly line: string } | ({ readonly kind: "value" } & Value);

/** The reply stream can no longer be trusted; the connection it came from is unusable. */
export class MalformedReply extends Error {}

interface ValueHeader {
  readonly key: string;
  readonly flags: number;
  readonly length: number;
  readonly cas: string | null;
}

/** `VALUE <key> <flags> <bytes> [<cas>]` in `bytes[from, to)`, or null if it is not one. */
export function parseValueHeader(bytes: Uint8Array, from: number, to: number): ValueHeader | null {
  if (to - from < 6 || !startsWith(bytes, from, VALUE_PREFIX)) return null;
  const keyEnd = bytes.indexOf(SPACE, from + 6);
  if (keyEnd <= from + 6 || keyEnd >= to) return null;
  const flagsEnd = bytes.indexOf(SPACE, keyEnd + 1);
  if (flagsEnd === -1 || flagsEnd >= to) return null;
  let lengthEnd = bytes.indexOf(SPACE, flagsEnd + 1);
  if (lengthEnd === -1 || lengthEnd >= to) lengthEnd = to;
  const flags = digits(bytes, keyEnd + 1, flagsEnd);
  const length = digits(bytes, flagsEnd + 1, lengthEnd);
  const cas = lengthEnd === to ? null : latin1(bytes, lengthEnd + 1, to);
  if (flags < 0 || length < 0 || cas === "" || cas?.includes(" ")) return null;
  return { key: latin1(bytes, from + 6, keyEnd), flags, length, cas };
}

function startsWith(bytes: Uint8Array, from: number, prefix: Uint8Array): boolean {
  for (let i = 0; i < prefix.length; i++) if (bytes[from + i] !== prefix[i]) return false;
  return true;
}

/** The decimal number in `bytes[from, to)`, or -1 if it is empty or not all digits. */
function digits(bytes: Uint8Array, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const digit = bytes[i]! - 48;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

/** `bytes[from, to)` as text: a constant for the common lines, else decoded as latin1. */
function lineAt(bytes: Uint8Array, from: number, to: number): string {
  for (const common of COMMON_LINES) {
    if (common.bytes.length === to - from && startsWith(bytes, from, common.bytes)) return common.line;
  }
  return latin1(bytes, from, to);
}

/** `bytes[from, to)` as latin1 text; short lines (most replies) without a Buffer in between. */
function latin1(bytes: Uint8Array, from: number, to: number): string {
  if (to - from > 64) return Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from).toString("latin1");
  let text = "";
  for (let i = from; i < to; i++) text += String.fromCharCode(bytes[i]!);
  return text;
}

export class ReplyReader {
  /** Either the caller's last chunk (borrowed, never written) or a buffer this reader owns. */
  private bytes: Uint8Array = new Uint8Array(0);
  private owned = false;
  private start = 0;
  private end = 0;
  /** Bytes before this offset hold no LF of the line being read. */
  private scanFrom = 0;

  constructor(private readonly maxLineBytes = MAX_LINE_BYTES) {}

  /** Bytes received and not yet handed out. */
  get buffered(): number {
    return this.end - this.start;
  }

  /** Adds received bytes; `chunk` is kept as is (not copied) when nothing is pending. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.start === this.end) {
      this.bytes = chunk;
      this.owned = false;
      this.start = this.scanFrom = 0;
      this.end = chunk.length;
      return;
    }
    if (!this.owned || this.end + chunk.length > this.bytes.length) this.moveToNewBuffer(chunk.length);
    this.bytes.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** Pending bytes into a fresh owned buffer with room for `more`: views handed out stay intact. */
  private moveToNewBuffer(more: number): void {
    const live = this.end - this.start;
    const grown = new Uint8Array(Math.max(live + more, 2 * live, 4096));
    grown.set(this.bytes.subarray(this.start, this.end));
    this.scanFrom -= this.start;
    this.bytes = grown;
    this.owned = true;
    this.start = 0;
    this.end = live;
  }

  /** The next reply line or VALUE block, or null until more bytes arrive. Throws `MalformedReply`. */
  next(): ReplyElement | null {
    const newline = this.findNewline();
    if (newline === -1) return null;
    const stop = this.lineStop(newline);
    const header = parseValueHeader(this.bytes, this.start, stop);
    if (header === null) {
      const line = lineAt(this.bytes, this.start, stop);
      this.consumeTo(newline + 1);
      return { kind: "line", line };
    }
    const dataStart = newline + 1;
    const dataEnd = dataStart + header.length;
    if (this.end < dataEnd + 2) return null;
    if (this.bytes[dataEnd] !== CR || this.bytes[dataEnd + 1] !== LF) {
      throw new MalformedReply(`the ${header.length}-byte data block of '${header.key}' is not followed by CRLF`);
    }
    const data = this.bytes.subarray(dataStart, dataEnd);
    this.consumeTo(dataEnd + 2);
    return { kind: "value", key: header.key, flags: header.flags, cas: header.cas, data };
  }

  /** The next line as raw text (for wire-format tests), or null until it is complete. */
  nextLine(): string | null {
    const newline = this.findNewline();
    if (newline === -1) return null;
    const line = lineAt(this.bytes, this.start, this.lineStop(newline));
    this.consumeTo(newline + 1);
    return line;
  }

  /** The bytes received and not handed out yet, left in place (for a test's failure message). */
  pending(): Uint8Array {
    return this.bytes.subarray(this.start, this.end);
  }

  /** The next `n` bytes as they came, or null until that many are buffered. */
  take(n: number): Uint8Array | null {
    if (this.buffered < n) return null;
    const bytes = this.bytes.subarray(this.start, this.start + n);
    this.consumeTo(this.start + n);
    return bytes;
  }

  private findNewline(): number {
    // Past `end` there is nothing (a borrowed chunk) or zeros never written (an owned buffer).
    const at = this.bytes.indexOf(LF, Math.max(this.start, this.scanFrom));
    if (at !== -1) return at;
    this.scanFrom = this.end;
    if (this.buffered > this.maxLineBytes) throw new MalformedReply(`a reply line longer than ${this.maxLineBytes} bytes`);
    return -1;
  }

  /** Where the line ending at the LF at `newline` stops, without its CR. */
  private lineStop(newline: number): number {
    return newline > this.start && this.bytes[newline - 1] === CR ? newline - 1 : newline;
  }

  private consumeTo(offset: number): void {
    this.start = this.scanFrom = offset;
    if (this.start === this.end && this.owned) {
      this.bytes = new Uint8Array(0);
      this.owned = false;
      this.start = this.end = this.scanFrom = 0;
    }
  }
}

// Whole replies

/** What one request's reply looks like: one line; VALUE blocks up to END; lines up to END. */
export type ReplyShape = "line" | "values" | "lines";

export type Reply =
  | { readonly kind: "line"; readonly line: string }
  | { readonly kind: "values"; readonly values: readonly Value[] }
  | { readonly kind: "lines"; readonly lines: readonly string[] }
  /** `ERROR`, `CLIENT_ERROR <reason>` or `SERVER_ERROR <reason>`, whatever the shape asked for. */
  | { readonly kind: "error"; readonly line: string };

/** A reply as it came, for an error message (a values reply by its kind: its items may be megabytes). */
export function replyText(reply: Reply): string {
  return reply.kind === "line" || reply.kind === "error" ? reply.line : `a ${reply.kind} reply`;
}

export function isErrorLine(line: string): boolean {
  return line === "ERROR" || line.startsWith("CLIENT_ERROR") || line.startsWith("SERVER_ERROR");
}

/** Collects the elements of one reply; `accept` returns the reply once it is complete. */
export class ReplyCollector {
  private readonly values: Value[] = [];
  private readonly lines: string[] = [];

  constructor(readonly shape: ReplyShape) {}

  /** Throws `MalformedReply` for an element this reply can't contain. */
  accept(element: ReplyElement): Reply | null {
    if (element.kind === "value") {
      if (this.shape !== "values") throw new MalformedReply(`a VALUE block for '${element.key}' where a ${this.shape} reply was due`);
      this.values.push(element);
      return null;
    }
    const line = element.line;
    if (isErrorLine(line)) return { kind: "error", line };
    if (this.shape === "line") return { kind: "line", line };
    if (line === "END") return this.shape === "values" ? { kind: "values", values: this.values } : { kind: "lines", lines: this.lines };
    if (this.shape === "lines") {
      this.lines.push(line);
      return null;
    }
    throw new MalformedReply(`'${line.slice(0, 200)}' where VALUE or END was due`);
  }
}

/** The `STAT <name> <value>` lines of a `stats` reply, by name. */
export function statsFromLines(lines: readonly string[]): Map<string, string> {
  const stats = new Map<string, string>();
  for (const line of lines) {
    const match = /^STAT (\S+) ?(.*)$/.exec(line);
    if (match !== null) stats.set(match[1]!, match[2]!);
  }
  return stats;
}

/** The status a `status` reply line names (`UP`, `READONLY`, ...), or null. */
export function parseStatus(line: string): ServerStatus | null {
  const status = line.trim().toLowerCase();
  return (SERVER_STATUSES as readonly string[]).includes(status) ? (status as ServerStatus) : null;
}
