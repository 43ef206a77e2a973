/**
 * Incremental framing of Kestrel 2's text protocol (docs/protocol.md, "Text protocol"): turns a
 * byte stream into requests, as Kestrel's `TextCodec` frames them.
 *
 * A request is one line ending in LF (a CR before it is dropped): its words, split on single
 * spaces with trailing empty words dropped (Java's `split(" ")`), the first lower-cased as the
 * command. A line ending in `:` opens a data block: the `:` is cut off, and every following line
 * up to an empty one is an item, its bytes exactly as sent (Kestrel re-encodes them, see
 * docs/protocol.md). Input may arrive split at any byte; `push` never parses, `next` returns one
 * frame or null when more bytes are needed.
 *
 * Bounds: a command line holds at most `maxLineLength` bytes and the items of one data block
 * together at most `maxRequestSize`; past either the stream can't be followed any more, and the
 * frame is fatal (reply, then close). A block of more than MAX_BLOCK_ITEMS items is read to its
 * end without keeping the items past the limit, and refused whole (Kestrel kept the first 1024,
 * dropped the next line and ran the rest as commands). Nothing else is buffered: one partial line
 * and the items of the block being read.
 *
 * An item line is a view of its chunk when it lies in one, else a copy. A line of ASSEMBLE_FROM
 * bytes or more that spans chunks is copied into place (and its CRC worked out, data_crc.ts) a
 * slice per call once its newline is here, over several turns (`busy`), as the memcache parser
 * copies a big data block: a 64 MiB item copied at once was one 60-95 ms turn.
 */
import { ASSEMBLE_FROM, assembleNext, newAssembly, type Assembly } from "../assembly.ts";
import { giveBack } from "../memcache/request_parser.ts";
import { errorReply } from "./text_replies.ts";

/** A request: its command (lower-cased), its other words, and the items of its data block (empty without one). */
export interface TextRequest {
  readonly kind: "request";
  readonly command: string;
  readonly args: readonly string[];
  readonly items: readonly Uint8Array[];
}

/** A request refused as a whole while the stream is still in step (its data block was read to its end). */
export interface TextRefusal {
  readonly kind: "refused";
  readonly reply: string;
}

/** The stream can't be followed any more: send `reply` and close the connection. */
export interface TextFatal {
  readonly kind: "fatal";
  readonly reply: string;
}

export type TextFrame = TextRequest | TextRefusal | TextFatal;

/** Items one data block may hold (Kestrel's `TextCodec.MAX_PUT_BUFFER`). */
export const MAX_BLOCK_ITEMS = 1024;

const NEWLINE = 10;
const CR = 13;
const COLON = 58;
const LINE_TOO_LONG = Symbol("line too long");

/** A data block being read: the request line that opened it and the items so far. */
interface OpenBlock {
  readonly command: string;
  readonly args: readonly string[];
  items: Uint8Array[];
  itemBytes: number;
  /** More than MAX_BLOCK_ITEMS items came: the rest is read and dropped, the request refused. */
  overflowed: boolean;
}

/** A long line being copied into place, and where its pieces are. */
interface LineAssembly extends Assembly {
  /** The pieces still to copy (received chunks, or parts of them). */
  readonly pieces: Uint8Array[];
  /** Bytes of pieces[0] already copied. */
  offset: number;
}

/** The words of a request line as Java's `line.split(" ")` gives them: trailing empty words dropped. */
export function splitWords(line: string): string[] {
  const words = line.split(" ");
  while (words.length > 0 && words[words.length - 1] === "") words.pop();
  return words;
}

export class TextParser {
  /** Received chunks not yet read; `offset` bytes of the first are. */
  private chunks: Uint8Array[] = [];
  private offset = 0;
  private unread = 0;
  /** The start of a line whose newline hasn't come yet. */
  private partial: Uint8Array[] = [];
  private partialBytes = 0;
  private block: OpenBlock | null = null;
  private assembly: LineAssembly | null = null;
  private failed = false;

  constructor(
    private readonly maxLineLength: number,
    /** The most item bytes one data block may hold; a connection may lower it for a while (access.ts). */
    public maxRequestSize: number,
  ) {}

  /**
   * `next` returned null with work it can go on with now (a long line being copied into place a
   * slice per call): call it again, in a later turn, without waiting for more input.
   */
  get busy(): boolean {
    return !this.failed && this.assembly !== null;
  }

  /** No request announces its size ahead (a data block ends with an empty line). */
  readonly announcedBytes = 0;

  /** Bytes received and not yet returned as frames (items of a block being read, and a line being copied, included). */
  get bufferedBytes(): number {
    return this.unread + this.partialBytes + (this.block?.itemBytes ?? 0) + (this.assembly?.data.length ?? 0);
  }

  push(chunk: Uint8Array): void {
    if (this.failed || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.unread += chunk.length;
  }

  /** Whether the next request is a complete command line longer than `bytes` (a look without parsing it). */
  nextLineLongerThan(bytes: number): boolean {
    if (this.failed || this.block !== null) return false;
    let length = this.partialBytes;
    for (const [i, chunk] of this.chunks.entries()) {
      const start = i === 0 ? this.offset : 0;
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline !== -1) return length + newline - start > bytes;
      length += chunk.length - start;
    }
    return false;
  }

  next(): TextFrame | null {
    while (!this.failed) {
      const block = this.block;
      const line = this.assembly !== null ? this.assembleSlice(this.assembly) : this.readLine(block === null ? this.maxLineLength : this.maxRequestSize - block.itemBytes);
      if (line === null) return null;
      if (line === LINE_TOO_LONG) {
        return this.fail(block === null ? `Line too long; limit=${this.maxLineLength}` : `Items too large; limit=${this.maxRequestSize} bytes`);
      }
      if (block !== null) {
        const frame = this.addToBlock(block, line);
        if (frame !== null) return frame;
      } else if (line.length > 0 && line[line.length - 1] === COLON) {
        const [command = "", ...args] = splitWords(latin1(line.subarray(0, line.length - 1)));
        this.block = { command: command.toLowerCase(), args, items: [], itemBytes: 0, overflowed: false };
      } else {
        const [command = "", ...args] = splitWords(latin1(line));
        return { kind: "request", command: command.toLowerCase(), args, items: [] };
      }
    }
    return null;
  }

  /** Adds an item line to `block`, or ends it (an empty line): then returns its frame. */
  private addToBlock(block: OpenBlock, line: Uint8Array): TextFrame | null {
    if (line.length === 0) {
      this.block = null;
      if (block.overflowed) return { kind: "refused", reply: errorReply(`Too many items; limit=${MAX_BLOCK_ITEMS}`) };
      return { kind: "request", command: block.command, args: block.args, items: block.items };
    }
    if (block.overflowed) return null;
    if (block.items.length === MAX_BLOCK_ITEMS) {
      block.overflowed = true;
      block.items = [];
      block.itemBytes = 0;
      return null;
    }
    block.items.push(line);
    block.itemBytes += line.length;
    return null;
  }

  /**
   * The next line without its line end (a view when it lies in one chunk, else a copy), null if
   * its newline hasn't come or it is being copied into place (`busy`), LINE_TOO_LONG if it holds
   * (or will hold) more than `limit` bytes.
   */
  private readLine(limit: number): Uint8Array | null | typeof LINE_TOO_LONG {
    while (this.chunks.length > 0) {
      const chunk = this.chunks[0]!;
      const newline = chunk.indexOf(NEWLINE, this.offset);
      if (newline === -1) {
        this.partial.push(this.offset === 0 ? chunk : chunk.subarray(this.offset));
        this.partialBytes += chunk.length - this.offset;
        this.unread -= chunk.length - this.offset;
        this.chunks.shift();
        this.offset = 0;
        // One byte more for the CR that may end the line.
        if (this.partialBytes > limit + 1) return LINE_TOO_LONG;
        continue;
      }
      const tail = chunk.subarray(this.offset, newline);
      this.unread -= newline + 1 - this.offset;
      this.offset = newline + 1;
      if (this.offset === chunk.length) {
        this.chunks.shift();
        this.offset = 0;
      }
      const pieces = this.partial;
      const length = this.partialBytes + tail.length;
      this.partial = [];
      this.partialBytes = 0;
      if (pieces.length > 0 && length >= ASSEMBLE_FROM) {
        pieces.push(tail);
        const last = pieces.findLast((piece) => piece.length > 0)!;
        const end = last[last.length - 1] === CR ? length - 1 : length;
        if (end > limit) return LINE_TOO_LONG;
        return this.assembleSlice((this.assembly = { ...newAssembly(end), pieces, offset: 0 }));
      }
      const line = pieces.length === 0 ? tail : new Uint8Array(Buffer.concat([...pieces, tail]));
      const end = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
      return end > limit ? LINE_TOO_LONG : line.subarray(0, end);
    }
    return null;
  }

  /**
   * Copies the next slice of a long line into place, with its CRC (assembly.ts); the line once
   * all of it is, else null. A piece copied whole that is a chunk of its own is given back at
   * once: nothing else can see it.
   */
  private assembleSlice(assembly: LineAssembly): Uint8Array | null {
    if (!assembleNext(assembly, (into, at, count) => copyPieces(assembly, into, at, count))) return null;
    // What is left is at most the CR that ended the line.
    for (const piece of assembly.pieces) giveBack(piece);
    this.assembly = null;
    return assembly.data;
  }

  private fail(message: string): TextFatal {
    this.discard();
    this.failed = true;
    return { kind: "fatal", reply: errorReply(message) };
  }

  /**
   * Drops every buffered byte (the connection is gone or can't be followed) and gives back at
   * once the memory of big chunks nothing else can see: those not read from at all (a frame's items
   * may be views into a chunk read from), as the memcache parser does (request_parser.ts).
   */
  discard(): void {
    for (let i = this.offset === 0 ? 0 : 1; i < this.chunks.length; i++) giveBack(this.chunks[i]!);
    // A partial piece that is a whole chunk was never read from either; nor was a long line's.
    for (const piece of this.partial) giveBack(piece);
    if (this.assembly !== null) {
      for (const piece of this.assembly.pieces) giveBack(piece);
      giveBack(this.assembly.data);
      this.assembly = null;
    }
    this.chunks = [];
    this.offset = 0;
    this.unread = 0;
    this.partial = [];
    this.partialBytes = 0;
    this.block = null;
  }
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

/** Copies `count` bytes from the head of `assembly`'s pieces into `into` at `at`, giving back each piece used up. */
function copyPieces(assembly: LineAssembly, into: Uint8Array, at: number, count: number): void {
  const { pieces } = assembly;
  for (let end = at + count; at < end; ) {
    const piece = pieces[0]!;
    const n = Math.min(end - at, piece.length - assembly.offset);
    into.set(piece.subarray(assembly.offset, assembly.offset + n), at);
    at += n;
    assembly.offset += n;
    if (assembly.offset === piece.length) {
      giveBack(pieces.shift()!);
      assembly.offset = 0;
    }
  }
}
