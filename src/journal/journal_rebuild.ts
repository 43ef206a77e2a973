/**
 * Rebuilding a journal from its queue: when the files no longer replay to the queue (deleted,
 * replaced or cut under the running server), the queue's live state is written as a new journal
 * that replaces every file of the old one, whatever became of them, and a fresh active segment
 * starts; the writer recovers.
 *
 * Invariants: the items in memory come from the queue; the items waiting on disk are copied from
 * the segments still there, a slice at a time (never all in memory; a segment that can't be read
 * is skipped and its items counted lost; an active file that is no longer the writer's is not
 * read by name, not even by a read that started in an earlier segment: it may be anything now; the
 * writer's own file, deleted or replaced but still open in the writer and whole, is read through
 * that descriptor, so the items acknowledged in it, and those of the batch that found it gone,
 * acknowledged once the rebuild is in place, are copied; the items whose records the writer kept
 * for a retry, never written, are copied from those records). Nothing is ever appended to a file the new journal replaces: the
 * pack and the fresh active file are written under temp names first, then whatever is at the
 * active name is moved aside to the sealed name the pack replaces and the pack is committed by its
 * rename (a failure undoes the move, or leaves the writer failed), so a crash at any point replays
 * to either the old files or the live state, never a mix. Once committed, a failed install step
 * leaves the pack pending (the items copied are read from it) and the writer running on the fresh
 * file; the next upkeep finishes the install.
 *
 * `RebuildTask` does the same without a long turn (3,000 rebuilds after queue_path was deleted
 * made a probe wait 95-213 ms, about 10 s long: six fsyncs each, in the turn; a queue with 255 MiB
 * waiting on disk stopped the server for 2.5-3.5 s copying it in one turn). In the turn it takes the queue's state and writes the
 * pack's head and the items in memory under its temp name, unsynced; the writer holds from then on
 * (records appended meanwhile wait, written to no file: JournalWriter.hold). The items waiting on
 * disk, if any, are then copied into the pack a slice per turn (TailCopy: at most
 * CARRY_SLICE_BYTES of items a turn, read from the old segments, which nothing writes, rotates or
 * releases meanwhile, and the queue reads nothing back from, ItemStore, nor sets anything behind,
 * PersistentQueue.setRefusal), and the fresh file is written once the pack is whole. Both files are fsynced off the event
 * loop, then, in the turn that hears so, the renames above are made as above (the commit), the
 * fresh file takes the active name and the directory is fsynced off the event loop; once that
 * returns the writer resumes, writing what waited to the fresh file (after the pack: replay sees
 * the state taken, then what came after), and the pack is installed over turns
 * (installPackInTurns). The files replay to the old journal until the commit and to the new one
 * after it, as above: nothing is renamed before both temp files are synced (a crash during the
 * copy leaves a temp file, removed at start, and the old files as they were). A failure before the
 * commit (a read can't fail it: a segment that can't be read is skipped, its items lost and
 * counted, as in the call) removes the temp files and fails the writer (`abandonHold`: nothing more may go to the
 * old files, and what waited goes to the next rebuild, at the next upkeep); after it, as above.
 * A clean stop finishes a task at once (`finish`: the rest of the copy and the fsyncs in the call, or failed if one
 * off the event loop failed already, the repair at a stop then rebuilds in the call); a queue
 * deleted cancels it (its `ended` hears "cancelled").
 */
import { errorText } from "../errors.ts";
import { log } from "../log.ts";
import { discard, type FreshFile } from "./active_file.ts";
import type { AddReader } from "./add_reader.ts";
import { fileSystem, removeQuietly } from "./files.ts";
import type { Extent } from "./active_file.ts";
import { commitPack, maxIdOf, preparePack, writePackFile, type Pack, type PackEntry, type PreparedPack, type WrittenPack } from "./pack.ts";
import type { DiskRegion } from "./replay_state.ts";
import { activePath, sealedPath } from "./segment_files.ts";
import type { SegmentList } from "./segment_list.ts";
import { CARRY_SLICE_BYTES, TailCopy, carryOver, type CarryOverParts, type PackTail } from "./tail_copy.ts";
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
  const { name, segments, writer } = journal;
  const seq = begin(journal);
  const pack = journal.pack(seq, entries);
  const prepared = preparePack(pack, disk === null ? null : carryOver(carryParts(journal), disk));
  journal.reader.close();
  let fresh: FreshFile;
  try {
    fresh = prepareFresh(journal, pack, prepared.extent, true);
  } catch (error) {
    removeQuietly(prepared.temp);
    throw error;
  }
  commit(journal, pack, prepared, fresh);
  segments.rebuilt(seq, maxIdOf(entries, prepared.tail?.maxId ?? 0));
  try {
    writer.restart(fresh);
  } catch (error) {
    // Committed all the same: the writer stays failed until the next upkeep rebuilds again.
    haltUnlessLost(journal, error);
  }
  try {
    segments.finishPending();
  } catch (error) {
    // The pack stays pending (reads of its items go to it): the next upkeep finishes the install.
    log.error(`queue '${name}': installing the rebuilt journal failed (finished at the next upkeep or start): ${errorText(error)}`);
  }
  return rebuiltOf(seq, disk, prepared.tail);
}

/** Where the items that waited on disk (`disk`) are after a rebuild that copied `tail` into pack `seq`, and how many it lost. */
function rebuiltOf(seq: number, disk: DiskRegion | null, tail: PackTail | null): Rebuilt {
  return {
    disk: tail === null ? null : { start: { seq, offset: tail.offset }, count: tail.count, bytes: tail.bytes, minId: tail.minId },
    lost: (disk?.count ?? 0) - (tail?.count ?? 0),
  };
}

/**
 * What the carry-over of the items waiting on disk reads with. The active file is read by name
 * while it is the writer's, whole (one a failed rebuild left halted too: the items set before are
 * there); deleted or replaced, through the writer's descriptor while the writer holds it open,
 * whole (the items acknowledged before the loss are there, and those of the batch that found it,
 * acknowledged once this rebuild is in place); cut, or gone with no descriptor left, not at all.
 * Never past the writer's intact bytes: the items whose records the writer still holds, never
 * written (a write that failed, the file deleted while closed), are taken from those records.
 */
function carryParts(journal: JournalParts): CarryOverParts {
  const { segments, reader, writer } = journal;
  const active = writer.activeIntact ? "by name" : writer.orphanedFile;
  return { segments, reader, active, activeBytes: writer.intactBytes, pending: writer.pendingAdds() };
}

/** What a rebuild does first, in the turn: records appended so far written, the directory made and checked. Returns the seq the pack replaces up to. */
function begin(journal: JournalParts): number {
  const { dir, name, segments, writer } = journal;
  // Records appended this turn are written first: items added to the disk region are copied from the files.
  writer.flush();
  fileSystem.mkdir(dir);
  for (const path of [activePath(dir, name), ...segments.rebuildPaths()]) {
    if (fileSystem.stat(path)?.isDirectory) throw new Error(`${path} is a directory; remove it so the journal can be rebuilt`);
  }
  return segments.activeSeq;
}

/** The fresh active file following `pack` (of `extent`), under a temp name (fsynced if `sync`). */
function prepareFresh(journal: JournalParts, pack: Pack, extent: Extent, sync: boolean): FreshFile {
  return journal.writer.prepareRestart({ seq: pack.seq + 1, prevBytes: extent.bytes, prevRecords: extent.records, floor: pack.floor, pack: false }, sync);
}

/** The fresh file could not take the active name after the commit: nothing more may be written until a rebuild puts one in place. */
function haltUnlessLost(journal: JournalParts, error: unknown): void {
  if (!journal.writer.lost) journal.writer.halt(`could not start the rebuilt journal at ${activePath(journal.dir, journal.name)}: ${errorText(error)}`);
}

/**
 * What became of a `RebuildTask`: committed (a failed install step is finished later), why not
 * (nothing changed that replay would see), or given up (the journal was erased).
 */
export type RebuildEnd = { readonly rebuilt: Rebuilt } | { readonly failed: string } | "cancelled";

/**
 * A rebuild with its fsyncs off the event loop and its copy of the items waiting on disk, if
 * any, a slice per turn (see the header). `ended` is called once, never during construction:
 * committed, once the writer resumed on the new active file and the pack's install over turns
 * (`install`, which calls back once it is done or failed: a failed step is finished later) is
 * through, failed, or cancelled (during `cancel`).
 *
 * Invariant: nothing is renamed before the pack, whole, and the fresh file are synced; the
 * writer holds from the turn the state was taken until the commit (or the failure); once it
 * ended or was cancelled, nothing it scheduled touches a file.
 */
export class RebuildTask {
  private phase: "copying" | "syncing" | "naming" | "installing" | "ended" = "syncing";
  private readonly seq: number;
  private readonly pack: Pack;
  private readonly written: WrittenPack;
  /** The copy of the items waiting on disk into the pack, or null if none waited. */
  private readonly copy: TailCopy | null;
  /** The fresh active file, once the pack is whole. */
  private fresh: FreshFile | null = null;
  private maxId: number;
  /** Where the items that waited on disk are once committed, and how many could not be copied. */
  private rebuilt: Rebuilt = { disk: null, lost: 0 };
  /** The first of its two fsyncs that failed, once heard (the other may not be back yet). */
  private syncError: Error | null = null;

  /**
   * Takes the state, `entries` (every item in memory, in queue order) and `disk` (where the items
   * waiting on disk start, or null), and writes the pack's head and entries, in the turn; throws,
   * with nothing changed, if that fails. The items waiting on disk are copied a slice per turn
   * from the next turn on; then the fresh file is written and both are fsynced off the event loop.
   */
  constructor(
    private readonly journal: JournalParts,
    entries: readonly PackEntry[],
    private readonly disk: DiskRegion | null,
    private readonly install: (seq: number, maxId: number, done: () => void) => void,
    private readonly ended: (end: RebuildEnd) => void,
  ) {
    this.seq = begin(journal);
    this.pack = journal.pack(this.seq, entries);
    this.maxId = maxIdOf(entries);
    this.written = writePackFile(this.pack);
    if (disk === null) {
      this.copy = null;
      journal.reader.close();
      try {
        this.fresh = prepareFresh(journal, this.pack, this.written.extent, false);
      } catch (error) {
        discard(this.written);
        throw error;
      }
      journal.writer.hold();
      this.startSyncs();
      return;
    }
    this.copy = new TailCopy(this.written.fd, this.written.extent, carryOver(carryParts(journal), disk));
    this.phase = "copying";
    journal.writer.hold();
    setImmediate(() => this.copyStep());
  }

  /**
   * Commits and puts the new journal in place now (a clean stop can't wait for the turns; the
   * journal finishes a pending install itself), the copy of the items on disk finished first;
   * `ended` is called as it would have been. If one of its fsyncs failed already, it fails: an
   * fsync of that file now may succeed without the pages the failed one lost (the kernel reports
   * a writeback error once).
   */
  finish(): void {
    if (this.phase === "copying") {
      try {
        while (this.copy!.step(CARRY_SLICE_BYTES));
      } catch (error) {
        this.fail(error);
      }
      if (this.phase === "copying") this.copied();
    }
    if (this.phase === "syncing") {
      let error = this.syncError;
      try {
        if (error === null) fileSystem.fsync(this.written.fd);
        if (error === null) fileSystem.fsync(this.fresh!.fd);
      } catch (caught) {
        error = caught instanceof Error ? caught : new Error(String(caught));
      }
      this.synced(error);
    }
    if (this.phase === "naming") this.journal.writer.finishResume();
    if (this.phase === "installing") this.end({ rebuilt: this.rebuilt });
  }

  /** Gives the task up (the journal is being erased; an install under way stops by itself): its temp files go; `ended` hears "cancelled". */
  cancel(): void {
    if (this.phase === "ended") return;
    if (this.phase === "copying" || this.phase === "syncing") this.removeTemps();
    this.end("cancelled");
  }

  /** One slice of the items waiting on disk copied into the pack, in this turn; the next in the next turn, until the copy is through. */
  private copyStep(): void {
    if (this.phase !== "copying") return;
    let more: boolean;
    try {
      more = this.copy!.step(CARRY_SLICE_BYTES);
    } catch (error) {
      return this.fail(error);
    }
    if (more) return void setImmediate(() => this.copyStep());
    if (this.copied()) this.startSyncs();
  }

  /** The pack is whole: the fresh active file is written after it (unsynced; `phase` "syncing"); false if the task failed. */
  private copied(): boolean {
    const copy = this.copy!;
    this.journal.reader.close();
    this.maxId = Math.max(this.maxId, copy.tail?.maxId ?? 0);
    this.rebuilt = rebuiltOf(this.seq, this.disk, copy.tail);
    try {
      this.fresh = prepareFresh(this.journal, this.pack, copy.extent, false);
    } catch (error) {
      this.fail(error);
      return false;
    }
    this.phase = "syncing";
    return true;
  }

  /** fsyncs the pack and the fresh file off the event loop; the commit follows in the turn that hears both. */
  private startSyncs(): void {
    let left = 2;
    const synced = (error: Error | null): void => {
      this.syncError ??= error;
      if (--left === 0 && this.phase === "syncing") this.synced(this.syncError);
    };
    fileSystem.fsyncAsync(this.written.fd, synced);
    fileSystem.fsyncAsync(this.fresh!.fd, synced);
  }

  /** Both files were fsynced (or one failed): the commit, in this turn. */
  private synced(error: Error | null): void {
    if (error !== null) return this.fail(error);
    const fresh = this.fresh!;
    try {
      fileSystem.close(this.written.fd);
    } catch (caught) {
      return this.fail(caught);
    }
    this.phase = "naming";
    try {
      // On failure the temp files are gone and the old active file is back (or the writer halted).
      commit(this.journal, this.pack, this.written, fresh);
    } catch (caught) {
      return this.fail(caught, false);
    }
    this.journal.segments.rebuilt(this.seq, this.maxId);
    try {
      this.journal.writer.resume({ ...fresh, synced: true }, () => this.resumed());
    } catch (caught) {
      // Committed all the same: the writer stays failed until the next upkeep rebuilds again.
      this.journal.writer.abandonHold(`could not start the rebuilt journal at ${activePath(this.journal.dir, this.journal.name)}: ${errorText(caught)}`);
      this.resumed();
    }
  }

  /** The new journal is in place (the writer may have failed since: its upkeep retries): its pack is installed over turns. */
  private resumed(): void {
    if (this.phase !== "naming") return;
    this.phase = "installing";
    this.install(this.seq, this.maxId, () => {
      if (this.phase === "installing") this.end({ rebuilt: this.rebuilt });
    });
  }

  private end(end: RebuildEnd): void {
    this.phase = "ended";
    this.ended(end);
  }

  private fail(error: unknown, removeTemps = true): void {
    if (removeTemps) this.removeTemps();
    this.phase = "ended";
    const reason = `the journal rebuild failed: ${errorText(error)}`;
    this.journal.writer.abandonHold(reason);
    this.end({ failed: errorText(error) });
  }

  private removeTemps(): void {
    discard(this.written);
    if (this.fresh !== null) discard(this.fresh);
  }
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
