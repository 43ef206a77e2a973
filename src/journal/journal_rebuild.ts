/**
 * Rebuilding a journal from its queue: when the files no longer replay to the queue (deleted,
 * replaced or cut under the running server), the queue's live state is written as a new journal
 * that replaces every file of the old one, whatever became of them, and a fresh active segment
 * starts; the writer recovers.
 *
 * Invariants: the items in memory come from the queue; the items waiting on disk are copied from
 * the segments still there, a slice at a time (never all in memory; a segment that can't be read
 * is skipped and its items counted lost; an active file that is no longer the writer's is not
 * read, it may be anything now). Nothing is ever appended to a file the new journal replaces: the
 * pack and the fresh active file are written under temp names first, then whatever is at the
 * active name is moved aside to the sealed name the pack replaces and the pack is committed by its
 * rename (a failure undoes the move, or leaves the writer failed), so a crash at any point replays
 * to either the old files or the live state, never a mix. Once committed, a failed install step
 * leaves the pack pending (the items copied are read from it) and the writer running on the fresh
 * file; the next upkeep finishes the install.
 */
import { errorText } from "../errors.ts";
import { log } from "../log.ts";
import { discard, type FreshFile } from "./active_file.ts";
import type { AddReader } from "./add_reader.ts";
import { fileSystem, removeQuietly } from "./files.ts";
import { commitPack, maxIdOf, preparePack, type ItemSource, type Pack, type PackEntry, type PreparedPack } from "./pack.ts";
import { FILE_HEADER_SIZE } from "./record.ts";
import type { DiskRegion } from "./replay_state.ts";
import { activePath, sealedPath } from "./segment_files.ts";
import type { SegmentList } from "./segment_list.ts";
import type { JournalWriter } from "./writer.ts";

/** The parts of a journal a rebuild works on. */
export interface JournalParts {
  readonly dir: string;
  readonly name: string;
  readonly segments: SegmentList;
  readonly writer: JournalWriter;
  readonly reader: AddReader;
  /** The pack replacing every segment up to `seq` with `entries`. */
  pack(seq: number, entries: readonly PackEntry[]): Pack;
}

/** What a rebuild did with the items that waited on disk: where those it could copy are now, and how many it could not. */
export interface Rebuilt {
  readonly disk: DiskRegion | null;
  readonly lost: number;
}

/**
 * Rebuilds the journal: `entries` are the items in memory (open ones first, in queue order);
 * `disk`, if items wait on disk, says where they start. Returns where the copied items are now.
 * Throws if the new journal can't be committed (nothing changed; if the old active file had to be
 * moved and can't be moved back, the writer stays failed).
 */
export function rebuildJournal(journal: JournalParts, entries: readonly PackEntry[], disk: DiskRegion | null): Rebuilt {
  const { dir, name, segments, writer } = journal;
  // Records appended this turn are written first: items added to the disk region are copied from the files.
  writer.flush();
  fileSystem.mkdir(dir);
  const seq = segments.activeSeq;
  const active = activePath(dir, name);
  for (const path of [active, ...segments.rebuildPaths()]) {
    if (fileSystem.stat(path)?.isDirectory) throw new Error(`${path} is a directory; remove it so the journal can be rebuilt`);
  }
  const pack = journal.pack(seq, entries);
  const prepared = preparePack(pack, disk === null ? null : carryOver(journal, disk));
  journal.reader.close();
  let fresh: FreshFile;
  try {
    fresh = writer.prepareRestart({ seq: seq + 1, prevBytes: prepared.extent.bytes, prevRecords: prepared.extent.records, floor: pack.floor, pack: false });
  } catch (error) {
    removeQuietly(prepared.temp);
    throw error;
  }
  commit(journal, pack, prepared, fresh);
  const maxId = maxIdOf(entries, prepared.tail?.maxId ?? 0);
  segments.rebuilt(seq, maxId);
  try {
    writer.restart(fresh);
  } catch (error) {
    // Committed all the same: the writer stays failed until the next upkeep rebuilds again.
    if (!writer.lost) writer.halt(`could not start the rebuilt journal at ${active}: ${errorText(error)}`);
  }
  try {
    segments.finishPending();
  } catch (error) {
    // The pack stays pending (reads of its items go to it): the next upkeep finishes the install.
    log.error(`queue '${name}': installing the rebuilt journal failed (finished at the next upkeep or start): ${errorText(error)}`);
  }
  const tail = prepared.tail;
  return {
    disk: tail === null ? null : { start: { seq, offset: tail.offset }, count: tail.count, bytes: tail.bytes, minId: tail.minId },
    lost: (disk?.count ?? 0) - (tail?.count ?? 0),
  };
}

/** Moves whatever is at the active name aside and commits the pack; on failure puts things back (or halts the writer). */
function commit(journal: JournalParts, pack: Pack, prepared: PreparedPack, fresh: FreshFile): void {
  const active = activePath(journal.dir, journal.name);
  const aside = sealedPath(journal.dir, journal.name, pack.seq);
  let moved = false;
  try {
    if (fileSystem.stat(active) !== null) {
      fileSystem.rename(active, aside);
      moved = true;
    }
    commitPack(pack, prepared);
  } catch (error) {
    discard(fresh);
    removeQuietly(prepared.temp);
    if (moved) moveBack(journal.writer, aside, active, error);
    throw error;
  }
}

/** Undoes the move of the active file; if even that fails, nothing more may be written to it. */
function moveBack(writer: JournalWriter, aside: string, active: string, cause: unknown): void {
  try {
    fileSystem.rename(aside, active);
  } catch {
    writer.halt(`the journal rebuild failed after moving ${active} aside: ${errorText(cause)}`);
  }
}

/** The items waiting on disk from `region` on, a slice at a time. */
function carryOver(journal: JournalParts, region: DiskRegion): ItemSource {
  const { segments, reader } = journal;
  let position = region.start;
  let left = region.count;
  const activeIsOurs = !journal.writer.lost;
  return (maxBytes) => {
    while (left > 0 && (activeIsOurs || position.seq !== segments.activeSeq)) {
      try {
        const { items, next } = reader.read(position, left, maxBytes);
        position = next;
        left -= items.length;
        return items;
      } catch {
        const next = segments.after(position.seq);
        if (next === null) return [];
        position = { seq: next, offset: FILE_HEADER_SIZE };
      }
    }
    return [];
  };
}
