/**
 * The record format of journals written by Scala Kestrel, every release from 1.2 to 2.4 (no file
 * header, no checksums): an opcode byte and little-endian fields. This module only decodes; what
 * the records mean for a queue is legacy_replay.ts's business, which files are read is
 * kestrel_files.ts's.
 *
 *   0 ADD                   i32 size, i32 expiry (unix s), data      size counts expiry + data
 *   1 REMOVE
 *   2 ADDX                  i32 size, i64 add ms, i64 expiry ms, data  size counts 16 + data
 *   3 REMOVE_TENTATIVE
 *   4 SAVE_XID              i32 xid
 *   5 UNREMOVE              i32 xid
 *   6 CONFIRM_REMOVE        i32 xid
 *   7 ADD_XID               i32 xid, then a block as ADDX's
 *   8 CONTINUE              i32 xid, then a block as ADDX's         1.3 and later
 *   9 REMOVE_TENTATIVE_XID  i32 xid                                  2.1 and later
 *
 * (Kestrel's docs/journal_format.md calls opcode 8 STATE_DUMP; no release wrote or read that: in
 * the code of 1.3.0 and of every 2.x, Journal.readJournalEntry, 8 is CONTINUE.)
 */
import { readI64 } from "./binary.ts";

export interface LegacyItem {
  readonly addTime: number;
  readonly expiry: number;
  readonly data: Uint8Array;
}

export type LegacyRecord =
  | { readonly op: "ADD" | "ADDX"; readonly item: LegacyItem }
  | { readonly op: "ADD_XID" | "CONTINUE"; readonly xid: number; readonly item: LegacyItem }
  | { readonly op: "REMOVE" | "REMOVE_TENTATIVE" }
  | { readonly op: "SAVE_XID" | "UNREMOVE" | "CONFIRM_REMOVE" | "REMOVE_TENTATIVE_XID"; readonly xid: number };

export type LegacyDecoded = { readonly record: LegacyRecord; readonly end: number } | { readonly error: string };

const ADDX_FIXED = 16;
const XID_OPS = { 4: "SAVE_XID", 5: "UNREMOVE", 6: "CONFIRM_REMOVE", 9: "REMOVE_TENTATIVE_XID" } as const;
const XID_ITEM_OPS = { 7: "ADD_XID", 8: "CONTINUE" } as const;

/**
 * Decodes the record at `offset`; an ADD's add time is `now` (the old format has none). Item
 * data are views into `bytes`. Never throws: a torn or impossible record gives the reason.
 */
export function decodeLegacyAt(bytes: Uint8Array, view: DataView, offset: number, now: number): LegacyDecoded {
  const int = (at: number): number | null => (at + 4 <= bytes.length ? view.getInt32(at, true) : null);
  const block = (at: number, minSize: number): { start: number; end: number } | null => {
    const size = int(at);
    if (size === null || size < minSize || at + 4 + size > bytes.length) return null;
    return { start: at + 4, end: at + 4 + size };
  };
  /** The item of an ADDX-style block at `at` (add time, expiry, data), or null if torn. */
  const itemBlock = (at: number): { item: LegacyItem; end: number } | null => {
    const b = block(at, ADDX_FIXED);
    if (b === null) return null;
    const expiry = expiryOf(readI64(view, b.start + 8));
    return { item: { addTime: readI64(view, b.start), expiry, data: bytes.subarray(b.start + ADDX_FIXED, b.end) }, end: b.end };
  };
  const op = bytes[offset]!;
  switch (op) {
    case 0: {
      const b = block(offset + 1, 4);
      if (b === null) return { error: "torn or impossible ADD" };
      const seconds = view.getInt32(b.start, true);
      const item = { addTime: now, expiry: expiryOf(seconds * 1000), data: bytes.subarray(b.start + 4, b.end) };
      return { record: { op: "ADD", item }, end: b.end };
    }
    case 2: {
      const read = itemBlock(offset + 1);
      if (read === null) return { error: "torn or impossible ADDX" };
      return { record: { op: "ADDX", item: read.item }, end: read.end };
    }
    case 7:
    case 8: {
      const xid = int(offset + 1);
      const read = itemBlock(offset + 5);
      if (xid === null || read === null) return { error: `torn or impossible ${XID_ITEM_OPS[op]}` };
      return { record: { op: XID_ITEM_OPS[op], xid, item: read.item }, end: read.end };
    }
    case 1:
      return { record: { op: "REMOVE" }, end: offset + 1 };
    case 3:
      return { record: { op: "REMOVE_TENTATIVE" }, end: offset + 1 };
    case 4:
    case 5:
    case 6:
    case 9: {
      const xid = int(offset + 1);
      if (xid === null) return { error: `torn ${XID_OPS[op]}` };
      return { record: { op: XID_OPS[op], xid }, end: offset + 5 };
    }
    default:
      return { error: `unknown opcode ${op}` };
  }
}

/**
 * Kestrel's expiry (ms; 0 never) as an item's: a negative one is a time long past, so the item is
 * already expired (Kestrel: `expiry != 0 && expiry < now`), written 1 as a negative exptime is.
 */
function expiryOf(ms: number): number {
  return ms < 0 ? 1 : ms;
}
