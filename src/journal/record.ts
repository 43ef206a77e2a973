/**
 * The journal's own on-disk format (version 3): a 16-byte file header, then self-checking records.
 *
 *   header:  "KESTRELJ" | u32 version | u32 crc32(bytes 0..12)
 *   record:  u32 crc32(bytes 4..end) | u8 0xA7 | u8 opcode | u32 payload length | payload
 *
 * Every record names the item it concerns by id, so replay stays exact even when a record in the
 * middle is lost. A segment that follows another starts with a SEGMENT record saying what that
 * one held when it was sealed, so a segment cut short or missing later is noticed and measured.
 * All integers are little-endian. docs/journal-format.md is the byte-level reference; this module
 * is its only implementation. Older files are read as they are: version 1 has no SEGMENT records,
 * versions 1 and 2 write ADD and PUT_BACK without flags (their own opcodes, read as flags 0), so
 * every record says its layout whatever the header (a damaged one included).
 */
import { readU64, viewOf, writeU64 } from "./binary.ts";
import { crc32, crc32Then } from "./crc32.ts";
import type { Item } from "./item.ts";

const FILE_MAGIC = "KESTRELJ";
export const FORMAT_VERSION = 3;
export const FILE_HEADER_SIZE = 16;

const RECORD_MARKER = 0xa7;
export const RECORD_HEADER_SIZE = 10;
/** id, add time, expiry, flags. */
const ADD_FIXED_SIZE = 28;
/** id, add time, expiry: ADD and PUT_BACK of versions 1 and 2. */
const UNFLAGGED_ADD_FIXED_SIZE = 24;
const ID_PAYLOAD_SIZE = 8;
const SEGMENT_PAYLOAD_SIZE = 33;

/** An item was appended at the tail (written since version 3, with its flags). */
export const OP_ADD = 7;
/** An item left the queue for good (read, confirmed, expired, discarded or flushed). */
export const OP_REMOVE = 2;
/** An item was handed out by a reliable read and is waiting for close or abort. */
export const OP_OPEN = 3;
/** An open item went back to the head of the queue. */
export const OP_ABORT = 4;
/** First record of a segment that follows another (version 2). */
export const OP_SEGMENT = 5;
/** An item was put back at the head of the queue (its get's reply never left; since version 3, with its flags). */
export const OP_PUT_BACK = 8;
/** ADD as versions 1 and 2 wrote it, without flags: read as an ADD with flags 0, never written. */
const OP_UNFLAGGED_ADD = 1;
/** PUT_BACK as version 2 wrote it, without flags: read as a PUT_BACK with flags 0, never written. */
const OP_UNFLAGGED_PUT_BACK = 6;

export type IdOp = typeof OP_REMOVE | typeof OP_OPEN | typeof OP_ABORT;
/** The records that carry an item: ADD (at the tail) and PUT_BACK (at the head). */
export type ItemOp = typeof OP_ADD | typeof OP_PUT_BACK;

/** What a SEGMENT record says. */
export interface SegmentInfo {
  /** This segment's own number. */
  readonly seq: number;
  /** Bytes and records of segment `seq - 1` when it was sealed. */
  readonly prevBytes: number;
  readonly prevRecords: number;
  /** Every item with a smaller id had left the queue for good when segment `seq - 1` was sealed. */
  readonly floor: number;
  /**
   * This segment is a pack: it replaced the segment sealed as `seq`, so the next segment's
   * `prevBytes` and `prevRecords` describe that one, not this file.
   */
  readonly pack: boolean;
}

export type JournalRecord =
  | { readonly op: ItemOp; readonly item: Item }
  | { readonly op: IdOp; readonly id: number }
  | { readonly op: typeof OP_SEGMENT; readonly info: SegmentInfo };


export function encodeFileHeader(): Uint8Array {
  const bytes = new Uint8Array(FILE_HEADER_SIZE);
  const view = viewOf(bytes);
  for (let i = 0; i < FILE_MAGIC.length; i++) bytes[i] = FILE_MAGIC.charCodeAt(i);
  view.setUint32(8, FORMAT_VERSION, true);
  view.setUint32(12, crc32(bytes.subarray(0, 12)), true);
  return bytes;
}

/** True when `bytes` starts with a valid file header of a version this build reads. */
export function hasFileHeader(bytes: Uint8Array): boolean {
  const version = headerVersion(bytes);
  return version !== null && version >= 1 && version <= FORMAT_VERSION;
}

/** The format version an intact file header (magic and checksum) declares, or null. */
export function headerVersion(bytes: Uint8Array): number | null {
  if (bytes.length < FILE_HEADER_SIZE || !hasFileMagic(bytes)) return null;
  const view = viewOf(bytes);
  return view.getUint32(12, true) === crc32(bytes.subarray(0, 12)) ? view.getUint32(8, true) : null;
}

/** True when `bytes` starts with the magic, whatever the rest of the header says. */
export function hasFileMagic(bytes: Uint8Array): boolean {
  if (bytes.length < FILE_MAGIC.length) return false;
  for (let i = 0; i < FILE_MAGIC.length; i++) {
    if (bytes[i] !== FILE_MAGIC.charCodeAt(i)) return false;
  }
  return true;
}

export const ADD_HEAD_SIZE = RECORD_HEADER_SIZE + ADD_FIXED_SIZE;
export const ID_RECORD_SIZE = RECORD_HEADER_SIZE + ID_PAYLOAD_SIZE;
export const SEGMENT_RECORD_SIZE = RECORD_HEADER_SIZE + SEGMENT_PAYLOAD_SIZE;

/**
 * Record heads are built in one scratch buffer and copied into place: the CRC then runs over a
 * view made once, not a new subarray per record (a fanout writes one record per child).
 */
const scratch = new Uint8Array(ADD_HEAD_SIZE);
const scratchView = viewOf(scratch);
const ADD_CRC_REGION = scratch.subarray(4, ADD_HEAD_SIZE);
const ID_CRC_REGION = scratch.subarray(4, ID_RECORD_SIZE);
const ID_RECORD = scratch.subarray(0, ID_RECORD_SIZE);

/**
 * Writes the head of an ADD (or PUT_BACK) record (header and fixed fields, `ADD_HEAD_SIZE` bytes)
 * at `offset`; the item's bytes must follow it in the file. The CRC covers both.
 */
export function writeAddHead(bytes: Uint8Array, offset: number, item: Item, op: ItemOp = OP_ADD): void {
  scratch[4] = RECORD_MARKER;
  scratch[5] = op;
  scratchView.setUint32(6, ADD_FIXED_SIZE + item.data.length, true);
  writeU64(scratchView, 10, item.id);
  writeU64(scratchView, 18, item.addTime);
  writeU64(scratchView, 26, item.expiry);
  scratchView.setUint32(34, item.flags, true);
  scratchView.setUint32(0, crc32Then(ADD_CRC_REGION, item.data), true);
  bytes.set(scratch, offset);
}

/** Writes a whole REMOVE/OPEN/ABORT record (`ID_RECORD_SIZE` bytes) at `offset`. */
export function writeIdRecord(bytes: Uint8Array, offset: number, op: IdOp, id: number): void {
  scratch[4] = RECORD_MARKER;
  scratch[5] = op;
  scratchView.setUint32(6, ID_PAYLOAD_SIZE, true);
  writeU64(scratchView, 10, id);
  scratchView.setUint32(0, crc32(ID_CRC_REGION), true);
  bytes.set(ID_RECORD, offset);
}

/** An ADD record as two pieces: its head and the item's own bytes (not copied). */
export function encodeAdd(item: Item): [Uint8Array, Uint8Array] {
  const head = new Uint8Array(ADD_HEAD_SIZE);
  writeAddHead(head, 0, item);
  return [head, item.data];
}

export function encodeIdRecord(op: IdOp, id: number): Uint8Array {
  const bytes = new Uint8Array(ID_RECORD_SIZE);
  writeIdRecord(bytes, 0, op, id);
  return bytes;
}

export function encodeSegmentRecord(info: SegmentInfo): Uint8Array {
  const bytes = new Uint8Array(SEGMENT_RECORD_SIZE);
  const view = viewOf(bytes);
  bytes[4] = RECORD_MARKER;
  bytes[5] = OP_SEGMENT;
  view.setUint32(6, SEGMENT_PAYLOAD_SIZE, true);
  writeU64(view, 10, info.seq);
  writeU64(view, 18, info.prevBytes);
  writeU64(view, 26, info.prevRecords);
  writeU64(view, 34, info.floor);
  bytes[42] = info.pack ? 1 : 0;
  view.setUint32(0, crc32(bytes.subarray(4)), true);
  return bytes;
}

export interface DecodedRecord {
  readonly record: JournalRecord;
  /** Offset just past this record. */
  readonly end: number;
}

/**
 * The end the header at `offset` declares (marker, known opcode, a length that opcode allows), or
 * null if it can't be a record header; the record may extend past `bytes`.
 */
export function declaredRecordEnd(bytes: Uint8Array, view: DataView, offset: number): number | null {
  if (offset + RECORD_HEADER_SIZE > bytes.length || bytes[offset + 4] !== RECORD_MARKER) return null;
  const op = bytes[offset + 5];
  const length = view.getUint32(offset + 6, true);
  const lengthFits =
    op === OP_ADD || op === OP_PUT_BACK
      ? length >= ADD_FIXED_SIZE
      : op === OP_UNFLAGGED_ADD || op === OP_UNFLAGGED_PUT_BACK
        ? length >= UNFLAGGED_ADD_FIXED_SIZE
        : op === OP_SEGMENT
          ? length === SEGMENT_PAYLOAD_SIZE
          : (op === OP_REMOVE || op === OP_OPEN || op === OP_ABORT) && length === ID_PAYLOAD_SIZE;
  return lengthFits ? offset + RECORD_HEADER_SIZE + length : null;
}

/** Like `declaredRecordEnd`, but null also when the record doesn't fit in `bytes`. */
export function plausibleRecordEnd(bytes: Uint8Array, view: DataView, offset: number): number | null {
  const end = declaredRecordEnd(bytes, view, offset);
  return end !== null && end <= bytes.length ? end : null;
}

/**
 * Decodes the record starting at `offset`, or returns null when the bytes there are not a whole,
 * intact record (torn, corrupt, or not a record boundary at all). Never throws. An ADD's data is
 * a view into `bytes`; an ADD or PUT_BACK of versions 1 and 2 comes back as one of today's, with
 * flags 0.
 */
export function decodeRecordAt(bytes: Uint8Array, view: DataView, offset: number): DecodedRecord | null {
  const end = plausibleRecordEnd(bytes, view, offset);
  if (end === null || view.getUint32(offset, true) !== crc32(bytes.subarray(offset + 4, end))) return null;
  const op = bytes[offset + 5] as ItemOp | IdOp | typeof OP_SEGMENT | typeof OP_UNFLAGGED_ADD | typeof OP_UNFLAGGED_PUT_BACK;
  const p = offset + RECORD_HEADER_SIZE;
  if (op === OP_SEGMENT) {
    const info = { seq: readU64(view, p), prevBytes: readU64(view, p + 8), prevRecords: readU64(view, p + 16), floor: readU64(view, p + 24), pack: bytes[p + 32] === 1 };
    return { record: { op, info }, end };
  }
  if (op === OP_ADD || op === OP_PUT_BACK) {
    const item = decodeItem(bytes, view, p, end, view.getUint32(p + 24, true), ADD_FIXED_SIZE);
    return { record: { op, item }, end };
  }
  if (op === OP_UNFLAGGED_ADD || op === OP_UNFLAGGED_PUT_BACK) {
    const item = decodeItem(bytes, view, p, end, 0, UNFLAGGED_ADD_FIXED_SIZE);
    return { record: { op: op === OP_UNFLAGGED_ADD ? OP_ADD : OP_PUT_BACK, item }, end };
  }
  return { record: { op, id: readU64(view, p) }, end };
}

/**
 * The item of an ADD record read in two parts: its head (`ADD_HEAD_SIZE` bytes at `offset`) and
 * its `data`, read apart (into the item's own buffer, for an item bigger than the read buffer).
 * Null when they are not an intact ADD of today's format (the CRC covers both). Never throws.
 */
export function decodeAddApart(bytes: Uint8Array, view: DataView, offset: number, data: Uint8Array): Item | null {
  if (offset + ADD_HEAD_SIZE > bytes.length || bytes[offset + 4] !== RECORD_MARKER || bytes[offset + 5] !== OP_ADD) return null;
  if (view.getUint32(offset + 6, true) !== ADD_FIXED_SIZE + data.length) return null;
  if (view.getUint32(offset, true) !== crc32(data, crc32(bytes.subarray(offset + 4, offset + ADD_HEAD_SIZE)))) return null;
  const p = offset + RECORD_HEADER_SIZE;
  return { id: readU64(view, p), addTime: readU64(view, p + 8), expiry: readU64(view, p + 16), flags: view.getUint32(p + 24, true), data };
}

/** The item of an ADD or PUT_BACK whose payload is `bytes[p, end)`, its data starting at `p + fixedSize`. */
function decodeItem(bytes: Uint8Array, view: DataView, p: number, end: number, flags: number, fixedSize: number): Item {
  return { id: readU64(view, p), addTime: readU64(view, p + 8), expiry: readU64(view, p + 16), flags, data: bytes.subarray(p + fixedSize, end) };
}

/** The first offset at or after `from` where an intact record starts, or -1. */
export function findNextRecord(bytes: Uint8Array, view: DataView, from: number): number {
  for (let p = bytes.indexOf(RECORD_MARKER, from + 4); p !== -1; p = bytes.indexOf(RECORD_MARKER, p + 1)) {
    if (decodeRecordAt(bytes, view, p - 4) !== null) return p - 4;
  }
  return -1;
}

