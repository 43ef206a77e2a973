/**
 * A journal file as text, one line per record and per damaged range: what `kestrel qdump`
 * prints. Works on both formats; never throws. An item's flags are shown as replay will give them
 * (0 for records of versions 1 and 2); Kestrel's records have none (blank).
 */
import type { LegacyItem, LegacyRecord } from "./legacy_record.ts";
import { OP_ABORT, OP_ADD, OP_OPEN, OP_PUT_BACK, OP_REMOVE, OP_SEGMENT, type JournalRecord } from "./record.ts";
import { scanJournal, type ScanSummary } from "./scan.ts";

const OP_NAMES: Record<number, string> = { [OP_ADD]: "ADD", [OP_PUT_BACK]: "PUT_BACK", [OP_REMOVE]: "REMOVE", [OP_OPEN]: "OPEN", [OP_ABORT]: "ABORT" };
const SUMMARY_BYTES = 40;

export const DUMP_HEADER = row("offset", "opcode", "id/xid", "size", "flags", "expiry", "data");

/** Prints every record and damaged range of `bytes`, in file order; returns the scan summary. */
export function dumpJournal(bytes: Uint8Array, now: number, emit: (line: string) => void): ScanSummary {
  return scanJournal(bytes, now, {
    current: (record, offset) => emit(currentLine(record, offset)),
    kestrel: (record, offset) => emit(kestrelLine(record, offset)),
    damage: (range) => emit(`${String(range.start).padStart(10)}  DAMAGE ${range.start}-${range.end} (${range.end - range.start} bytes): ${range.reason}`),
  });
}

function currentLine(record: JournalRecord, offset: number): string {
  if ("item" in record) {
    const { id, flags, expiry, data } = record.item;
    return row(String(offset), OP_NAMES[record.op]!, String(id), String(data.length), String(flags), expiryText(expiry), preview(data));
  }
  if (record.op === OP_SEGMENT) {
    const { seq, prevBytes, prevRecords, floor, pack } = record.info;
    const after = `after ${prevRecords} records, ${prevBytes} bytes; ids below ${floor} gone${pack ? "; a pack" : ""}`;
    return row(String(offset), "SEGMENT", String(seq), "", "", "", after);
  }
  return row(String(offset), OP_NAMES[record.op]!, String(record.id), "", "", "", "");
}

function kestrelLine(record: LegacyRecord, offset: number): string {
  const itemColumns = (item: LegacyItem) => [String(item.data.length), "", expiryText(item.expiry), preview(item.data)] as const;
  switch (record.op) {
    case "ADD":
    case "ADDX":
      return row(String(offset), record.op, "", ...itemColumns(record.item));
    case "ADD_XID":
    case "CONTINUE":
      return row(String(offset), record.op, String(record.xid), ...itemColumns(record.item));
    case "REMOVE":
    case "REMOVE_TENTATIVE":
      return row(String(offset), record.op, "", "", "", "", "");
    case "SAVE_XID":
    case "UNREMOVE":
    case "CONFIRM_REMOVE":
    case "REMOVE_TENTATIVE_XID":
      return row(String(offset), record.op, String(record.xid), "", "", "", "");
  }
}

function row(offset: string, op: string, id: string, size: string, flags: string, expiry: string, data: string): string {
  return `${offset.padStart(10)}  ${op.padEnd(20)} ${id.padStart(8)} ${size.padStart(9)} ${flags.padStart(10)}  ${expiry.padEnd(24)} ${data}`.trimEnd();
}

function expiryText(expiry: number): string {
  return expiry === 0 ? "-" : new Date(expiry).toISOString();
}

/** The first bytes of an item, printable ASCII as is, the rest escaped. */
function preview(data: Uint8Array): string {
  let text = "";
  for (const byte of data.subarray(0, SUMMARY_BYTES)) {
    text += byte >= 0x20 && byte < 0x7f && byte !== 0x5c ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, "0")}`;
  }
  return data.length > SUMMARY_BYTES ? `"${text}"...` : `"${text}"`;
}
