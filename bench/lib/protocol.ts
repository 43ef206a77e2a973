/**
 * The benchmark's side of the memcache text protocol: the key, the item, the request bytes
 * (built once) and a reply classifier, on the client library's reply reader, that checks every
 * item it receives.
 *
 * The item is a fixed pattern (a-z repeated) so that a reply can be checked byte for byte; the
 * floor server (bench/floor_server.ts) serves the same pattern from `benchItem`.
 */

import { MalformedReply, ReplyReader } from "../../src/client/protocol.ts";

export const KEY = "bench";
export const HOST = "127.0.0.1";

const ascii = (text: string): Uint8Array => Buffer.from(text, "latin1");

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

/**
 * Classifies replies as they arrive: bytes in, one callback per complete reply. The bytes are
 * read by the client library's `ReplyReader` (src/client/protocol.ts), so the benchmark parses
 * replies exactly as the client does; item data is compared with the expected item where it lies
 * in the received chunk, not copied or decoded. A reply to a get of several keys (VALUE blocks up
 * to one END) is one "hit" whose `values` counts them, "corrupt" if any of them is, and
 * "unexpected" past `maxValues` blocks (1 unless asked). A stream that can't be read any more (a
 * data block not followed by CRLF) is reported "unexpected" and reading starts afresh.
 */
export type ReplyKind = "stored" | "hit" | "miss" | "corrupt" | "unexpected";

export class ReplyParser {
  private reader = new ReplyReader();
  /** What a VALUE's data must be: the item (`valueBlock` without its CRLF). */
  private readonly item: Uint8Array;
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
  ) {
    this.item = valueBlock.subarray(0, Math.max(0, valueBlock.length - 2));
  }

  feed(chunk: Uint8Array): void {
    this.reader.push(chunk);
    try {
      for (let element = this.reader.next(); element !== null; element = this.reader.next()) {
        if (element.kind === "value") this.onValue(element.data);
        else this.onLine(element.line);
      }
    } catch (error) {
      if (!(error instanceof MalformedReply)) throw error;
      this.reader = new ReplyReader();
      this.inValue = false;
      this.values = 0;
      this.onReply("unexpected", error.message, 0);
    }
  }

  /** A VALUE block: the first of a reply, or one more of a get of several keys. */
  private onValue(data: Uint8Array): void {
    const intact = data.length + 2 === this.valueBlock.length && Buffer.compare(data, this.item) === 0;
    this.intact = this.inValue ? this.intact && intact : intact;
    this.inValue = true;
    this.values++;
    this.valueLength = data.length;
  }

  private onLine(line: string): void {
    if (this.inValue) {
      this.inValue = false;
      const values = this.values;
      this.values = 0;
      if (line !== "END") return this.onReply("unexpected", `after a VALUE block: ${clip(line)}`, 0);
      if (values > this.maxValues) return this.onReply("unexpected", `${values} VALUE blocks in one reply, at most ${this.maxValues} expected`, 0);
      if (this.intact) return this.onReply("hit", "", values);
      return this.onReply("corrupt", `VALUE of ${this.valueLength} bytes does not match the item that was set`, values);
    }
    if (line === "STORED") return this.onReply("stored", "", 0);
    if (line === "END") return this.onReply("miss", "", 0);
    this.onReply("unexpected", clip(line), 0);
  }
}

function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
