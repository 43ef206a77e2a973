/**
 * The benchmark's side of the memcache text protocol: the key, the item, the request bytes
 * (built once) and an incremental reply parser that checks every item it receives.
 *
 * The item is a fixed pattern (a-z repeated) so that a reply can be checked byte for byte; the
 * floor server (bench/floor_server.ts) serves the same pattern from `benchItem`.
 */

export const KEY = "bench";
export const HOST = "127.0.0.1";

const CR = 13;
const LF = 10;
const ascii = (text: string): Uint8Array => Buffer.from(text, "latin1");
const STORED = ascii("STORED");
const END = ascii("END");
const VALUE_PREFIX = ascii("VALUE ");

/** The item every producer sets: `size` bytes of a-z repeated. */
export function benchItem(size: number): Uint8Array {
  const item = new Uint8Array(size);
  for (let i = 0; i < size; i++) item[i] = 97 + (i % 26);
  return item;
}

export interface Requests {
  readonly set: Uint8Array;
  readonly get: Uint8Array;
  /** What a hit's data block must be: the item followed by CRLF. */
  readonly valueBlock: Uint8Array;
}

export function buildRequests(itemSize: number, getKey: string): Requests {
  const item = benchItem(itemSize);
  const crlf = ascii("\r\n");
  return {
    set: Buffer.concat([ascii(`set ${KEY} 0 0 ${itemSize}\r\n`), item, crlf]),
    get: ascii(`get ${getKey}\r\n`),
    valueBlock: Buffer.concat([item, crlf]),
  };
}

// ---------------------------------------------------------------------------------------------
// Incremental reply parsing: bytes in, one callback per complete reply. Item data is compared
// with the expected bytes where it lies in the received chunks, never copied or decoded. A reply
// to a get of several keys (VALUE blocks up to one END) is one "hit" whose `values` counts them,
// "corrupt" if any of them is, and "unexpected" past `maxValues` blocks (1 unless asked).

export type ReplyKind = "stored" | "hit" | "miss" | "corrupt" | "unexpected";

export class ReplyParser {
  private partial = new Uint8Array(256);
  private partialLength = 0;
  /** Bytes of the current VALUE data block (with its CRLF) still to come. */
  private dataLeft = 0;
  private dataOffset = 0;
  /** Inside a VALUE reply, waiting for its END. */
  private inValue = false;
  private intact = true;
  private valueLength = 0;
  /** VALUE blocks in the current reply. */
  private values = 0;

  constructor(
    private readonly valueBlock: Uint8Array,
    /** `values`: the VALUE blocks in a hit or corrupt reply, 0 for the other kinds. */
    private readonly onReply: (kind: ReplyKind, detail: string, values: number) => void,
    /** VALUE blocks one reply may hold: 1 for gets of one key, more for multi-key gets. */
    private readonly maxValues = 1,
  ) {}

  feed(chunk: Uint8Array): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.dataLeft > 0) {
        pos = this.consumeData(chunk, pos);
        continue;
      }
      const newline = chunk.indexOf(LF, pos);
      if (newline === -1) {
        this.keepPartial(chunk.subarray(pos));
        return;
      }
      const lineEnd = newline + 1;
      if (this.partialLength === 0) {
        this.onLine(chunk.subarray(pos, lineEnd));
      } else {
        this.keepPartial(chunk.subarray(pos, lineEnd));
        const line = this.partial.subarray(0, this.partialLength);
        this.partialLength = 0;
        this.onLine(line);
      }
      pos = lineEnd;
    }
  }

  private consumeData(chunk: Uint8Array, pos: number): number {
    const n = Math.min(this.dataLeft, chunk.length - pos);
    if (this.intact) {
      const expected = this.valueBlock.subarray(this.dataOffset, this.dataOffset + n);
      if (Buffer.compare(chunk.subarray(pos, pos + n), expected) !== 0) this.intact = false;
    }
    this.dataOffset += n;
    this.dataLeft -= n;
    return pos + n;
  }

  private keepPartial(bytes: Uint8Array): void {
    const needed = this.partialLength + bytes.length;
    if (needed > this.partial.length) {
      const grown = new Uint8Array(Math.max(needed, this.partial.length * 2));
      grown.set(this.partial.subarray(0, this.partialLength));
      this.partial = grown;
    }
    this.partial.set(bytes, this.partialLength);
    this.partialLength = needed;
  }

  /** `line` ends with LF (normally CRLF). */
  private onLine(line: Uint8Array): void {
    const text = line.subarray(0, line.length >= 2 && line[line.length - 2] === CR ? line.length - 2 : line.length - 1);
    const length = startsWith(text, VALUE_PREFIX) ? valueLength(text) : -1;
    if (this.inValue && length < 0) {
      this.inValue = false;
      const values = this.values;
      this.values = 0;
      if (!bytesEqual(text, END)) return this.onReply("unexpected", `after a VALUE block: ${latin1(text)}`, 0);
      if (values > this.maxValues) return this.onReply("unexpected", `${values} VALUE blocks in one reply, at most ${this.maxValues} expected`, 0);
      if (this.intact) return this.onReply("hit", "", values);
      return this.onReply("corrupt", `VALUE of ${this.valueLength} bytes does not match the item that was set`, values);
    }
    if (length >= 0) return this.startValue(length);
    if (bytesEqual(text, STORED)) return this.onReply("stored", "", 0);
    if (bytesEqual(text, END)) return this.onReply("miss", "", 0);
    this.onReply("unexpected", latin1(text), 0);
  }

  /** A VALUE header: the first of a reply, or one more of a get of several keys. */
  private startValue(length: number): void {
    const intact = length + 2 === this.valueBlock.length;
    this.intact = this.inValue ? this.intact && intact : intact;
    this.inValue = true;
    this.values++;
    this.valueLength = length;
    this.dataLeft = length + 2;
    this.dataOffset = 0;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function startsWith(a: Uint8Array, prefix: Uint8Array): boolean {
  return a.length >= prefix.length && bytesEqual(a.subarray(0, prefix.length), prefix);
}

/** The <bytes> field of `VALUE <key> <flags> <bytes> [<cas>]`, or -1. */
function valueLength(header: Uint8Array): number {
  let field = 0;
  let n = -1;
  for (let i = 0; i < header.length; i++) {
    const byte = header[i]!;
    if (byte === 32) {
      if (field === 3) break;
      field++;
    } else if (field === 3) {
      if (byte < 48 || byte > 57) return -1;
      n = (n < 0 ? 0 : n * 10) + (byte - 48);
    }
  }
  return n;
}

function latin1(bytes: Uint8Array): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
