/**
 * Walks the records of one journal file, of either format, and reports damage: the one reader
 * behind replay and `kestrel qdump`.
 *
 * Format detection: a valid header means our format; the magic with a damaged header too (the
 * header is reported as damage, the records still count); a header of a newer version with a
 * valid CRC is not read at all. A file without the magic is Kestrel's if it reads cleanly as such,
 * else ours with a lost header if an intact record of ours is found in it, else Kestrel's with
 * damage. In our format, damage is skipped to the next intact record; in Kestrel's, whose records
 * address items by position, the first broken record ends the file. Never throws.
 */
import { viewOf } from "./binary.ts";
import { decodeLegacyAt, type LegacyRecord } from "./legacy_record.ts";
import {
  FILE_HEADER_SIZE,
  FORMAT_VERSION,
  decodeRecordAt,
  findNextRecord,
  hasFileHeader,
  hasFileMagic,
  headerVersion,
  plausibleRecordEnd,
  type JournalRecord,
} from "./record.ts";

export interface Damage {
  readonly start: number;
  readonly end: number;
  readonly reason: string;
}

export type JournalFormat = "current" | "kestrel" | "empty";

/** Called in file order. */
export interface ScanVisitor {
  current?(record: JournalRecord, offset: number, end: number): void;
  kestrel?(record: LegacyRecord, offset: number, end: number): void;
  damage?(range: Damage): void;
}

export interface ScanSummary {
  readonly format: JournalFormat;
  /** Intact records read. */
  readonly records: number;
  /** Offset just past the last intact record. */
  readonly validEnd: number;
  readonly damage: Damage[];
  /** A journal of a newer format version this build can't read (nothing was scanned). */
  readonly unsupportedVersion: number | null;
}

export function scanJournal(bytes: Uint8Array, now: number, visitor: ScanVisitor): ScanSummary {
  const view = viewOf(bytes);
  if (bytes.length === 0) return summary("empty", 0, 0, []);
  if (hasFileHeader(bytes)) return scanCurrent(bytes, view, FILE_HEADER_SIZE, false, visitor);
  if (hasFileMagic(bytes)) {
    const version = headerVersion(bytes);
    if (version !== null && version > FORMAT_VERSION) return { ...summary("current", 0, 0, []), unsupportedVersion: version };
    return scanCurrent(bytes, view, Math.min(FILE_HEADER_SIZE, bytes.length), true, visitor);
  }
  const trial = scanKestrel(bytes, view, now, {});
  if (trial.damage.length > 0) {
    const first = findNextRecord(bytes, view, 0);
    if (first !== -1) return scanCurrent(bytes, view, first, true, visitor);
  }
  return scanKestrel(bytes, view, now, visitor);
}

/** Scans records from `start`; with `headerDamaged`, the bytes before it are reported as damage. */
function scanCurrent(bytes: Uint8Array, view: DataView, start: number, headerDamaged: boolean, visitor: ScanVisitor): ScanSummary {
  const damage: Damage[] = [];
  const damaged = (range: Damage) => {
    damage.push(range);
    visitor.damage?.(range);
  };
  if (headerDamaged && start > 0) damaged({ start: 0, end: start, reason: "damaged file header" });
  let records = 0;
  let offset = start;
  let validEnd = start;
  while (offset < bytes.length) {
    const decoded = decodeRecordAt(bytes, view, offset);
    if (decoded === null) {
      const next = findNextRecord(bytes, view, offset + 1);
      damaged({ start: offset, end: next === -1 ? bytes.length : next, reason: next === -1 ? "torn or corrupt tail" : "corrupt record" });
      if (next === -1) break;
      offset = next;
      continue;
    }
    visitor.current?.(decoded.record, offset, decoded.end);
    records++;
    offset = validEnd = decoded.end;
  }
  return summary("current", records, validEnd, damage);
}

function scanKestrel(bytes: Uint8Array, view: DataView, now: number, visitor: ScanVisitor): ScanSummary {
  let records = 0;
  let offset = 0;
  while (offset < bytes.length) {
    const decoded = decodeLegacyAt(bytes, view, offset, now);
    if ("error" in decoded) {
      const range = { start: offset, end: bytes.length, reason: `${decoded.error} at offset ${offset}` };
      visitor.damage?.(range);
      return summary("kestrel", records, offset, [range]);
    }
    visitor.kestrel?.(decoded.record, offset, decoded.end);
    records++;
    offset = decoded.end;
  }
  return summary("kestrel", records, offset, []);
}

function summary(format: JournalFormat, records: number, validEnd: number, damage: Damage[]): ScanSummary {
  return { format, records, validEnd, damage, unsupportedVersion: null };
}

/**
 * About how many records a damaged range held, judged leniently from what looks like record
 * headers in it (for the recovery log; the bytes themselves are quarantined).
 */
export function estimateRecords(bytes: Uint8Array, range: Damage, format: JournalFormat, now: number): number {
  const region = bytes.subarray(0, range.end);
  const view = viewOf(region);
  let count = 0;
  for (let p = range.start; p < range.end; ) {
    const end = format === "kestrel" ? kestrelEnd(region, view, p, now) : plausibleRecordEnd(region, view, p);
    if (end === null) {
      p++;
    } else {
      count++;
      p = end;
    }
  }
  return count;
}

function kestrelEnd(bytes: Uint8Array, view: DataView, offset: number, now: number): number | null {
  const decoded = decodeLegacyAt(bytes, view, offset, now);
  return "error" in decoded ? null : decoded.end;
}
