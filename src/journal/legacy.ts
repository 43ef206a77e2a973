/**
 * Replays journals written by Scala Kestrel (no file header; opcode byte + little-endian fields).
 *
 *   0 ADD             i32 size, i32 expiry (unix s), data        size counts expiry + data
 *   1 REMOVE                                                     head removed for good
 *   2 ADDX            i32 size, i64 add ms, i64 expiry ms, data  size counts 16 + data
 *   3 REMOVE_TENTATIVE                                           head handed out, xid assigned
 *   4 SAVE_XID        i32 xid                                    xid counter
 *   5 UNREMOVE        i32 xid                                    open item back to the head
 *   6 CONFIRM_REMOVE  i32 xid                                    open item gone for good
 *   7 ADD_XID         i32 xid, i32 size, i64, i64, data          item that carries its xid
 *   8 STATE_DUMP      i32 xid, i32 count                         end of a rotated file
 *
 * Records carry no checksum and address items by position, so the first broken record ends the
 * replay: everything from there on is reported as damage. Never throws.
 */
import { readI64, viewOf } from "./binary.ts";
import type { Item } from "./item.ts";
import { ReplayState } from "./replay_state.ts";

export interface LegacyReplay {
  readonly state: ReplayState;
  readonly records: number;
  /** Offset just past the last record that was understood. */
  readonly validEnd: number;
  /** Why replay stopped before the end of the file, or null when it read everything. */
  readonly stopReason: string | null;
  /** A STATE_DUMP ended the replay; the bytes after it restate open items and are not damage. */
  readonly endedAtStateDump: boolean;
}

const ADDX_FIXED = 16;

export function replayLegacy(bytes: Uint8Array, now: number): LegacyReplay {
  const view = viewOf(bytes);
  const state = new ReplayState();
  const xidOfItem = new Map<number, number>();
  const itemOfXid = new Map<number, number>();
  let xidCounter = 0;
  let nextId = 1;
  let records = 0;
  let offset = 0;

  const readInt = (at: number): number | null => (at + 4 <= bytes.length ? view.getInt32(at, true) : null);
  const makeItem = (addTime: number, expiry: number, data: Uint8Array): Item => ({ id: nextId++, addTime, expiry, data });
  const openHead = (): void => {
    const head = state.head();
    if (head === undefined) return;
    let xid = xidOfItem.get(head.id);
    if (xid === undefined) {
      do xidCounter++;
      while (itemOfXid.has(xidCounter));
      xid = xidCounter;
    }
    itemOfXid.set(xid, head.id);
    state.markOpen(head.id);
  };
  const settleXid = (xid: number, confirm: boolean): void => {
    const id = itemOfXid.get(xid);
    if (id === undefined) return;
    itemOfXid.delete(xid);
    if (confirm) state.remove(id);
    else state.abort(id);
  };
  /** Reads an i32-sized block at `at`; null when the size is impossible or the block is torn. */
  const readBlock = (at: number, minSize: number): { start: number; end: number } | null => {
    const size = readInt(at);
    if (size === null || size < minSize || at + 4 + size > bytes.length) return null;
    return { start: at + 4, end: at + 4 + size };
  };

  while (offset < bytes.length) {
    const op = bytes[offset]!;
    let end: number;
    if (op === 0) {
      const block = readBlock(offset + 1, 4);
      if (block === null) return stop("torn or impossible ADD");
      const expirySeconds = view.getInt32(block.start, true);
      state.add(makeItem(now, expirySeconds > 0 ? expirySeconds * 1000 : 0, bytes.subarray(block.start + 4, block.end)));
      end = block.end;
    } else if (op === 2 || op === 7) {
      const blockAt = op === 7 ? offset + 5 : offset + 1;
      const xid = op === 7 ? readInt(offset + 1) : 0;
      const block = readBlock(blockAt, ADDX_FIXED);
      if (block === null || xid === null) return stop("torn or impossible ADDX");
      const expiry = readI64(view, block.start + 8);
      const item = makeItem(readI64(view, block.start), expiry > 0 ? expiry : 0, bytes.subarray(block.start + ADDX_FIXED, block.end));
      state.add(item);
      if (op === 7 && xid !== 0) xidOfItem.set(item.id, xid);
      end = block.end;
    } else if (op === 1 || op === 3) {
      const head = state.head();
      if (op === 1 && head !== undefined) state.remove(head.id);
      if (op === 3) openHead();
      end = offset + 1;
    } else if (op === 4 || op === 5 || op === 6) {
      const xid = readInt(offset + 1);
      if (xid === null) return stop("torn record");
      if (op === 4) xidCounter = xid;
      else settleXid(xid, op === 6);
      end = offset + 5;
    } else if (op === 8) {
      const xid = readInt(offset + 1);
      if (xid === null || readInt(offset + 5) === null) return stop("torn STATE_DUMP");
      xidCounter = xid;
      records++;
      return { state, records, validEnd: offset + 9, stopReason: null, endedAtStateDump: true };
    } else {
      return stop(`unknown opcode ${op}`);
    }
    records++;
    offset = end;
  }
  return { state, records, validEnd: offset, stopReason: null, endedAtStateDump: false };

  function stop(reason: string): LegacyReplay {
    return { state, records, validEnd: offset, stopReason: `${reason} at offset ${offset}`, endedAtStateDump: false };
  }
}
