/**
 * Turns the bytes of one journal file, of either format, into the queue they describe: the
 * journal tests' view of a file. (Start-up does the same through open_journal.ts, segment by
 * segment, with the same ReplayState.)
 *
 * Only records that pass their checks are applied (scan.ts decides which), so no garbage ever
 * becomes an item; everything else is reported as damaged byte ranges for the caller to
 * quarantine. Never throws.
 */
import type { Item } from "../../src/journal/item.ts";
import { KestrelReplayer } from "../../src/journal/legacy_replay.ts";
import { ReplayState } from "../../src/journal/replay_state.ts";
import { scanJournal, type Damage, type JournalFormat } from "../../src/journal/scan.ts";

export interface ReplayOutcome {
  readonly format: JournalFormat;
  /** The live queue, open transactions returned to the head. */
  readonly items: Item[];
  readonly nextId: number;
  /** Open transactions found in a journal of ours (now at the head of `items`; Kestrel's are put back by its replay). */
  readonly reopened: number;
  readonly records: number;
  /** Offset just past the last intact record. */
  readonly validEnd: number;
  readonly damage: Damage[];
  /** The file is a journal of a newer format version this build can't read; leave it alone. */
  readonly unsupportedVersion: number | null;
}

export function replayJournal(bytes: Uint8Array, now: number): ReplayOutcome {
  const state = new ReplayState();
  const kestrel = new KestrelReplayer(state);
  const scan = scanJournal(bytes, now, {
    current: (record) => state.apply(record),
    kestrel: (record) => kestrel.apply(record),
  });
  kestrel.finish();
  return { ...scan, items: state.items(), nextId: state.nextId, reopened: state.openCount };
}
