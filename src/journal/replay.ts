/**
 * Turns the bytes of one journal file, of either format, into the queue they describe.
 *
 * Never throws and never invents an item: only records that pass their checks (CRC32 in our
 * format; complete, well-formed fields in Kestrel's) are applied. Everything else is reported as
 * a damaged byte range for the caller to quarantine. In our format replay resumes at the next
 * intact record after damage; in Kestrel's, whose records address items by position, it stops.
 */
import type { Item } from "./item.ts";
import { replayLegacy } from "./legacy.ts";
import {
  FILE_HEADER_SIZE,
  FORMAT_VERSION,
  OP_ABORT,
  OP_ADD,
  OP_OPEN,
  OP_REMOVE,
  decodeRecordAt,
  findNextRecord,
  hasFileHeader,
  hasFileMagic,
} from "./record.ts";
import { viewOf } from "./binary.ts";
import { ReplayState } from "./replay_state.ts";

export interface Damage {
  readonly start: number;
  readonly end: number;
  readonly reason: string;
}

export type JournalFormat = "current" | "kestrel" | "empty";

export interface ReplayOutcome {
  readonly format: JournalFormat;
  /** The live queue, open transactions returned to the head. */
  readonly items: Item[];
  readonly nextId: number;
  /** Open transactions found in the journal (now at the head of `items`). */
  readonly reopened: number;
  readonly records: number;
  /** Offset just past the last intact record. */
  readonly validEnd: number;
  readonly damage: Damage[];
  /** The file is a journal of a newer format version this build can't read; leave it alone. */
  readonly unsupportedVersion: number | null;
}

export function replayJournal(bytes: Uint8Array, now: number): ReplayOutcome {
  if (bytes.length === 0) return finish("empty", new ReplayState(), 0, 0, []);
  const view = viewOf(bytes);
  if (hasFileHeader(bytes)) return replayCurrent(bytes, view, FILE_HEADER_SIZE, []);
  if (hasFileMagic(bytes)) {
    const version = bytes.length >= 12 ? view.getUint32(8, true) : FORMAT_VERSION;
    if (version > FORMAT_VERSION && version < 0x10000 && bytes.length >= FILE_HEADER_SIZE) {
      return { ...finish("current", new ReplayState(), 0, 0, []), unsupportedVersion: version };
    }
    return replayCurrent(bytes, view, Math.min(FILE_HEADER_SIZE, bytes.length), [
      { start: 0, end: Math.min(FILE_HEADER_SIZE, bytes.length), reason: "damaged file header" },
    ]);
  }
  const legacy = replayLegacy(bytes, now);
  if (legacy.stopReason === null) {
    return finish("kestrel", legacy.state, legacy.records, legacy.validEnd, []);
  }
  const firstRecord = findNextRecord(bytes, view, 0);
  if (firstRecord !== -1) {
    return replayCurrent(bytes, view, firstRecord, [{ start: 0, end: firstRecord, reason: "damaged file header" }]);
  }
  const damage = [{ start: legacy.validEnd, end: bytes.length, reason: legacy.stopReason }];
  return finish("kestrel", legacy.state, legacy.records, legacy.validEnd, damage);
}

function replayCurrent(bytes: Uint8Array, view: DataView, start: number, damage: Damage[]): ReplayOutcome {
  const state = new ReplayState();
  let records = 0;
  let offset = start;
  let validEnd = start;
  while (offset < bytes.length) {
    const decoded = decodeRecordAt(bytes, view, offset);
    if (decoded === null) {
      const next = findNextRecord(bytes, view, offset + 1);
      const end = next === -1 ? bytes.length : next;
      damage.push({ start: offset, end, reason: next === -1 ? "torn or corrupt tail" : "corrupt record" });
      if (next === -1) break;
      offset = next;
      continue;
    }
    const record = decoded.record;
    if (record.op === OP_ADD) state.add(record.item);
    else if (record.op === OP_REMOVE) state.remove(record.id);
    else if (record.op === OP_OPEN) state.markOpen(record.id);
    else if (record.op === OP_ABORT) state.abort(record.id);
    records++;
    offset = validEnd = decoded.end;
  }
  return finish("current", state, records, validEnd, damage);
}

function finish(format: JournalFormat, state: ReplayState, records: number, validEnd: number, damage: Damage[]): ReplayOutcome {
  return {
    format,
    items: state.items(),
    nextId: state.nextId,
    reopened: state.openCount,
    records,
    validEnd,
    damage,
    unsupportedVersion: null,
  };
}
