/**
 * The append side of a queue's journal: batching, the sync policy, faults and rotation, over the
 * active segment (ActiveFile).
 *
 * Invariants:
 * - Records reach the file in the order they were appended; a commit settles durable only after
 *   every record it covers was written (and, under `always`, fsynced).
 * - A batch is written in slices of at most WRITE_SLICE bytes, and the flush scheduler's turn may
 *   stop between slices (a 64 MiB item copied to 11 journals is 704 writes of 1 MiB spread over
 *   turns, not 11 writes of 20-300 ms each): the bytes of a batch being written lie past the
 *   file's extent until its last slice is written, so a failure, a crash or a cut back in between
 *   drops them whole. Records appended meanwhile form the next batch.
 * - At most one fsync is in flight per writer; it runs off the event loop while the next batch
 *   forms.
 * - A fault never leaves the file and memory apart for good. A failed write is cut back out of
 *   the file (or cut before the next write, if even that fails) and its records are kept; under
 *   `always`, bytes written but not yet confirmed by fsync are kept too, and a failed fsync cuts
 *   the file back to the last confirmed size (the kernel may have dropped those pages). While
 *   failing, the writer refuses nothing itself (the queue refuses sets and gets); `retry` (the
 *   queue's upkeep calls it once a second) writes the kept records, then fsyncs where one is owed;
 *   success settles every commit that waited (`Commit.retry`).
 * - A file deleted, replaced or cut under the writer (checked after every write) is `lost`:
 *   retrying can't bring its records back under its name, so the journal rebuilds itself from the
 *   queue (reading the items waiting in a deleted or replaced file through the descriptor still
 *   open here, `orphanedFile`, while that is the file whole; the records of the write that found
 *   the file cut are kept, as after a failed write, and the items among them, like those of every
 *   record kept, copied from here, `pendingAdds`) and calls
 *   `restart`; or, for a rebuild whose files are synced off the event loop, `hold` when it takes
 *   the queue's state and `resume` once they are committed: records appended in between are
 *   written to no file until the new active file is in place and its rename on disk, then to it
 *   (`abandonHold`, if the rebuild fails, keeps them for the next one).
 * - Rotation changes nothing unless it completes (ActiveFile.seal).
 * - A batch is made by the first record appended after the last one was taken, and the fsync
 *   pipeline by the first batch that needs an fsync (never under `never`): an idle writer holds
 *   neither.
 */
import { dirname } from "node:path";
import { errorText } from "../errors.ts";
import { ActiveFile, grow, type Extent, type FreshFile, type OrphanedFile } from "./active_file.ts";
import { Commit, DURABLE } from "./commit.ts";
import { markDirty } from "./flush_scheduler.ts";
import { fsyncDirectoryAsync, type FileInfo } from "./files.ts";
import { FsyncPipeline, type Unsynced } from "./fsync_pipeline.ts";
import { pendingAdds, type PendingAdd } from "./pending_adds.ts";
import type { Item } from "./item.ts";
import { OP_ABORT, OP_OPEN, OP_PUT_BACK, OP_REMOVE, type IdOp, type SegmentInfo } from "./record.ts";
import { RecordBatch, releaseArenas, type TakenRecords } from "./record_batch.ts";
import type { SyncPolicy } from "./sync_policy.ts";

/** What a writer tells its journal. */
export interface WriterEvents {
  /** The journal can't be written (the queue refuses sets and gets until it recovers). */
  onFailure(message: string): void;
  onRecovered(): void;
  /** A batch reached the file and nothing more waits to be written: the journal checks whether to rotate. */
  rotateIfFull(): void;
}

const NOTHING: Extent = { bytes: 0, records: 0 };
/** The most one write to the file carries (a 1 MiB write takes well under a millisecond; a 64 MiB one 20-300). */
export const WRITE_SLICE = 1024 * 1024;

/** Records taken from the batch to be written: their bytes, extent, and the arenas to release once written. */
interface Records {
  readonly chunks: readonly Uint8Array[];
  readonly extent: Extent;
  readonly arenas: readonly Uint8Array<ArrayBuffer>[];
}

const NO_RECORDS: Records = { chunks: [], extent: NOTHING, arenas: [] };

function recordsOf(taken: TakenRecords): Records {
  return { chunks: taken.chunks, extent: { bytes: taken.size, records: taken.records }, arenas: taken.arenas };
}

function join(first: Records, second: Records): Records {
  return { chunks: [...first.chunks, ...second.chunks], extent: grow(first.extent, second.extent), arenas: [...first.arenas, ...second.arenas] };
}

/** What a rebuild under way holds (see JournalWriter.hold). */
interface Held {
  /** The commits of the records from before the rebuild took the queue's state: its journal holds them. */
  readonly covered: readonly Commit[];
  /** Called once the new active file's rename is on disk (null), or that fsync failed. */
  resumed: (error: Error | null) => void;
}

export class JournalWriter {
  private readonly file: ActiveFile;
  /** Made by the first batch that needs an fsync (see `pipeline`). */
  private fsyncs: FsyncPipeline | null = null;
  /** Records appended since the last batch was taken; null while there are none. */
  private batch: RecordBatch | null = null;
  /** Records of failed attempts, in order, kept for the retry. */
  private retained: Records = NO_RECORDS;
  /** The batch being written, slice by slice: `done` of its bytes are in the file past its extent. */
  private writing: { readonly records: Records; readonly commit: Commit; done: number } | null = null;
  /**
   * The commit of the batch just written (in the extent) until it is settled or handed to the
   * fsync pipeline: a bug in between (`flushBroke`) fails it with the retry, never leaves it pending.
   */
  private finishing: Commit | null = null;
  /** Covers the records appended since the last write. */
  private commit: Commit | null = null;
  /** Covers the most recent record appended, written or not. */
  private latest: Commit = DURABLE;
  /** Why the journal can't be written now, or null while it is healthy. */
  failure: string | null = null;
  /** The file was deleted or replaced while open: only `restart` recovers. */
  lost = false;
  /** Settles once everything kept since the failure is written (and synced where owed). */
  private retryCommit: Commit | null = null;
  /** The file may hold bytes of a failed write past its extent: cut them before writing. */
  private cutNeeded = false;
  /** An fsync failed: recovery needs one to succeed. */
  private syncNeeded = false;
  /** The directory entry of the last rotation may not be on disk yet. */
  private directorySyncNeeded = false;
  private closed = false;
  private appendCount = 0;
  /**
   * A rebuild took the queue's state and is syncing its files (`hold`): the commits its new
   * journal covers, settled once it is in place, and who hears that; records appended meanwhile
   * wait, unwritten, in the batch.
   */
  private held: Held | null = null;

  /**
   * Appends to the active segment at `path`: `active.activeFile` as replay left it (or none yet),
   * holding `activeRecords` intact records. `journal` hears of failures and recoveries, and when
   * a batch reached the file and nothing more waits to be written.
   */
  constructor(
    path: string,
    active: { readonly activeRecords: number; readonly activeFile: FileInfo | null },
    private policy: SyncPolicy,
    private readonly journal: WriterEvents,
  ) {
    this.file = new ActiveFile(path, active.activeFile, active.activeRecords, this);
    this.file.durableCreate = policy.kind !== "never";
  }

  /**
   * Nothing waits to be written or synced, and no rebuild holds the writer (it may be reading the
   * file through this descriptor, `orphanedFile`): the descriptor may be closed (the ActiveFile asks).
   */
  owesNothing(): boolean {
    return this.batch === null && this.writing === null && this.failure === null && this.held === null && (this.fsyncs?.idle ?? true);
  }

  get path(): string {
    return this.file.path;
  }

  /** Bytes in the file plus bytes waiting to be written. */
  get size(): number {
    return this.file.extent.bytes + this.retained.extent.bytes + (this.writing?.records.extent.bytes ?? 0) + (this.batch?.size ?? 0);
  }

  /** Creates the active file now if no write did yet. Throws if it can't. */
  createFile(): void {
    this.file.ensureExists();
  }

  /** The inode of the file being appended to (to notice it being replaced), or null if it was not created yet. */
  fileInode(): number | null {
    return this.file.inode;
  }

  /** The commit that settles once every record appended so far is durable (or failed). */
  get lastCommit(): Commit {
    return this.latest;
  }

  /**
   * Changes the sync policy. What was written under the old one is first fsynced (if the writer
   * is healthy), so no batch is ever owed an fsync under a policy that no longer keeps its bytes.
   */
  setPolicy(policy: SyncPolicy): void {
    if (policy.kind !== this.policy.kind && !this.closed) {
      this.flush();
      if (this.failure === null) {
        try {
          this.syncNow();
        } catch {
          // syncNow failed the writer (and kept what it owed); the retry syncs under the new policy.
        }
      }
    }
    this.policy = policy;
    this.file.durableCreate = policy.kind !== "never";
  }

  appendAdd(item: Item): Commit {
    this.openBatch().addItem(item);
    return this.appended();
  }

  appendPutBack(item: Item): Commit {
    this.openBatch().addItem(item, OP_PUT_BACK);
    return this.appended();
  }

  appendRemove(id: number): Commit {
    return this.appendId(OP_REMOVE, id);
  }

  appendOpen(id: number): Commit {
    return this.appendId(OP_OPEN, id);
  }

  appendAbort(id: number): Commit {
    return this.appendId(OP_ABORT, id);
  }

  private appendId(op: IdOp, id: number): Commit {
    this.openBatch().addId(op, id);
    return this.appended();
  }

  /** Records appended so far (to tell whether anything happened since a given moment). */
  get appends(): number {
    return this.appendCount;
  }

  private appended(): Commit {
    this.appendCount++;
    if (this.failure !== null) {
      // The record waits for the retry, and so does anyone who waits for it.
      this.latest = this.retryCommit!;
      return this.latest;
    }
    if (this.commit === null) {
      this.commit = this.latest = new Commit();
      markDirty(this);
    }
    return this.commit;
  }

  /** Writes everything appended so far; returns the bytes it tried to write. */
  flush(): number {
    return this.flushUpTo(Infinity, Infinity);
  }

  /**
   * Writes what was appended, in order, until `budget` bytes went to the file or `until`
   * (performance.now()) passed, one slice at least (called once per event-loop turn, by the flush
   * scheduler); if a batch is left half written, the writer stays dirty and the next turn goes on
   * with it. Returns the bytes it tried to write.
   */
  flushUpTo(budget: number, until: number): number {
    // A rebuild under way: the records wait for its new active file (`resume` marks the writer dirty again).
    if (this.held !== null) return 0;
    let written = 0;
    while (written < budget && !this.closed && this.failure === null && (written === 0 || performance.now() < until)) {
      if (this.writing === null) {
        if (this.batch === null) break;
        const records = this.takeBatch(this.policy.kind === "always");
        this.writing = { records, commit: this.commit ?? new Commit(), done: 0 };
        this.commit = null;
      }
      // A whole slice even when the budget has less left: the budget may be passed by one slice,
      // and a small batch is not cut into pieces.
      written += this.writeSlice(WRITE_SLICE);
    }
    // Left for the next turn: a batch half written, or records appended while it was written.
    if ((this.writing !== null || this.batch !== null) && this.failure === null && !this.closed) markDirty(this);
    return written;
  }

  /**
   * A bug (an exception, logged by the flush scheduler) stopped `flushUpTo` midway: the writer
   * fails as after a failed write. The batch being written, if any, and the records appended since
   * wait for the retry (the upkeep's, once a second), which first cuts the file back to its last
   * intact record: what the broken flush may have put past it is never taken for records.
   */
  flushBroke(reason: string): void {
    if (this.closed) return;
    this.cutNeeded = true;
    this.fail(`journal write to ${this.path} failed: internal error: ${reason}`, []);
  }

  /** The batch records are appended to, made by the first since the last was taken. */
  private openBatch(): RecordBatch {
    return (this.batch ??= new RecordBatch());
  }

  /** Hands out the records appended so far (with copies of their bytes if `copy`, see RecordBatch.take); the next append starts a new batch. */
  private takeBatch(copy = false): Records {
    const batch = this.batch;
    if (batch === null) return NO_RECORDS;
    // Taken before it is let go: a bug in `take` (a copy that can't be allocated) leaves the
    // records in the batch, for the retry, not gone with their commit settled by it.
    const records = recordsOf(batch.take(copy));
    this.batch = null;
    return records;
  }

  /** The fsync pipeline, made by the first batch that needs one. */
  private pipeline(): FsyncPipeline {
    return (this.fsyncs ??= new FsyncPipeline(this.file, this));
  }

  /** Writes the next `most` bytes (at most) of the batch being written; finishes it after its last slice. */
  private writeSlice(most: number): number {
    const writing = this.writing!;
    const { records, commit } = writing;
    const bytes = Math.min(most, records.extent.bytes - writing.done);
    try {
      this.file.appendPart(records.chunks, writing.done, bytes);
    } catch (error) {
      this.writing = null;
      this.writeFailed(records, [commit], error);
      return bytes;
    }
    writing.done += bytes;
    if (writing.done === records.extent.bytes) this.finishWriting();
    return bytes;
  }

  /** The batch being written is all in the file: it becomes part of the extent and its commit goes on. */
  private finishWriting(): void {
    const { records, commit } = this.writing!;
    // Counted as written before it stops being the batch being written, and its commit kept in
    // `finishing` until passed on: a bug in between (`flushBroke`) leaves it to the retry, commit
    // and all, never lost, never written twice, never pending for good.
    this.file.appended(records.extent);
    this.finishing = commit;
    this.writing = null;
    if (this.checkLost([commit], records)) return;
    releaseArenas(records.arenas);
    if (this.policy.kind === "always") {
      this.pipeline().add({ commit, chunks: records.chunks, extent: records.extent });
      this.finishing = null;
    } else {
      commit.settle("durable");
      this.finishing = null;
      // A settled commit need not be kept: DURABLE stands for it (an idle queue holds no Commit).
      if (this.latest === commit) this.latest = DURABLE;
      if (this.policy.kind === "interval") this.pipeline().syncWithin(this.policy.ms);
    }
    // A rotation writes everything pending first, in one go: it waits until the records appended
    // while a big batch went out in slices are written too.
    if (this.batch === null) this.journal.rotateIfFull();
    this.file.closeIfCrowded();
  }

  private writeFailed(records: Records, commits: Commit[], error: unknown): void {
    this.cutNeeded = !this.file.cutBack();
    this.retained = records;
    this.fail(`journal write to ${this.path} failed: ${errorText(error)}`, commits);
  }

  /**
   * True (and the writer failed) if the file is no longer at `path`, or was cut. `written`, the
   * records just written, if any: if the file was found cut, they are kept as after a failed write
   * (they went to the cut file, where no read finds them; a rebuild copies the items among them,
   * `pendingAdds`); otherwise their arenas are released (deleted or replaced, the file is still
   * whole through the descriptor: ActiveFile.orphaned).
   */
  private checkLost(commits: Commit[], written: Records | null = null): boolean {
    let damage: string | null;
    try {
      damage = this.file.damage();
    } catch (error) {
      if (written !== null) releaseArenas(written.arenas);
      this.fail(`journal file ${this.path} can't be checked: ${errorText(error)}`, commits);
      return true;
    }
    if (damage === null) return false;
    if (written !== null && this.file.foundCut) {
      this.file.takeBack(written.extent);
      this.retained = join(this.retained, written);
    } else if (written !== null) {
      releaseArenas(written.arenas);
    }
    this.lost = true;
    this.fail(`journal file ${this.path} ${damage} while in use; it is rebuilt from the queue`, commits);
    return true;
  }

  /**
   * Whether the active file is still the one this writer wrote, whole, at its name, whether or not
   * the writer halted since (a rebuild that failed halts it, leaving the file as it was): a rebuild
   * may read the items waiting in it by name. False if it was deleted, replaced, moved away or cut,
   * or can't be checked.
   */
  get activeIntact(): boolean {
    try {
      return this.file.damage() === null;
    } catch {
      return false;
    }
  }

  /**
   * The active file as this writer still holds it open, whole, once it was deleted or replaced
   * under it (see ActiveFile.orphaned): a rebuild reads the items waiting in it from there, those
   * acknowledged before the loss and those of the batch that found it. Null if it can't be read so
   * (the descriptor closed, the file cut, or it can't be checked).
   */
  get orphanedFile(): OrphanedFile | null {
    try {
      return this.file.orphaned();
    } catch {
      return null;
    }
  }

  /** Bytes at the start of the file that are intact records written by this writer. */
  get intactBytes(): number {
    return this.file.extent.bytes;
  }

  /**
   * The ADDs of the records that never reached the file, while failing (kept for the retry, or
   * appended since), with the offsets they are to take there, from `intactBytes` on: a rebuild
   * copies the items waiting on disk among them. [] while healthy (a rebuild flushed first: every
   * record is in the file).
   */
  pendingAdds(): PendingAdd[] {
    if (this.failure === null) return [];
    // As a retry would: the records appended since the failure follow those kept.
    this.retained = join(this.retained, this.takeBatch());
    return pendingAdds(this.retained.chunks, this.file.extent.bytes);
  }

  /** What happened to the file under the writer (see ActiveFile.damage), or null. Throws for I/O errors. */
  fileDamage(): string | null {
    return this.lost ? "was deleted, replaced or cut" : this.file.damage();
  }

  /**
   * Enters (or stays in) the failed state; `commits` fail, their records wait for the retry, and so
   * does a batch half written (its slices are cut before the retry writes it again).
   */
  private fail(message: string, commits: readonly Commit[]): void {
    if (this.failure === null) {
      this.retryCommit = new Commit();
      this.journal.onFailure(message);
    }
    this.failure = message;
    const retry = this.retryCommit!;
    for (const commit of commits) commit.settle("failed", message, retry);
    // Its records are in the file (under `always` not yet fsynced: the retry fsyncs).
    this.finishing?.settle("failed", message, retry);
    this.finishing = null;
    if (this.writing !== null) {
      this.retained = join(this.retained, this.writing.records);
      this.cutNeeded ||= this.writing.done > 0;
      this.writing.commit.settle("failed", message, retry);
      this.writing = null;
    }
    this.commit?.settle("failed", message, retry);
    this.commit = null;
    this.latest = retry;
  }

  /**
   * After a failure: writes what was kept (and the batch) and syncs where owed; recovers on
   * success, else stays failed with the new reason. Does nothing for a lost file (see `restart`).
   */
  retry(): void {
    if (this.closed || this.failure === null || this.lost || this.held !== null) return;
    try {
      this.repairFile();
    } catch (error) {
      this.failure = `journal write to ${this.path} failed: ${errorText(error)}`;
      return;
    }
    if (this.checkLost([])) return;
    this.recovered();
  }

  /** One attempt to bring the file in line with memory. Throws if any step fails. */
  private repairFile(): void {
    this.file.finishName();
    if (this.directorySyncNeeded) {
      this.file.syncDirectory();
      this.directorySyncNeeded = false;
    }
    if (this.cutNeeded) {
      try {
        this.file.cutBackOrThrow();
      } catch (error) {
        throw new Error(`could not cut ${this.path} back to its last intact record: ${errorText(error)}`, { cause: error });
      }
      this.cutNeeded = false;
    }
    this.retained = join(this.retained, this.takeBatch());
    const before = this.file.extent;
    try {
      this.file.append(this.retained.chunks, this.retained.extent);
      if (this.syncNeeded || this.policy.kind === "always") this.file.sync();
    } catch (error) {
      // Cut back what this attempt wrote and keep it: an unsynced rewrite may be dropped again.
      this.cutNeeded = !this.file.cutBack(before);
      throw error;
    }
    this.syncNeeded = false;
    releaseArenas(this.retained.arenas);
    this.retained = NO_RECORDS;
    this.fsyncs?.confirmAll();
  }

  private recovered(): void {
    this.failure = null;
    const retry = this.retryCommit;
    this.retryCommit = null;
    this.latest = retry ?? this.latest;
    retry?.settle("durable");
    this.journal.onRecovered();
  }

  /**
   * An fsync failed. Under `always` the bytes since the last good fsync are cut and written again
   * by the retry (the kernel may have dropped them); under the other policies they were
   * acknowledged already and only the fsync is owed. (Public for the FsyncPipeline, which reports.)
   */
  syncFailed(error: unknown, owed: Unsynced[]): void {
    const message = `fsync of ${this.path} failed: ${errorText(error)}`;
    this.syncNeeded = true;
    if (owed.length > 0) {
      // The owed batches are the last bytes written (an fsync is owed only under `always`, and a
      // policy change syncs first): cut exactly those, nothing acknowledged before them.
      const owedExtent = owed.reduce((sum, entry) => grow(sum, entry.extent), NOTHING);
      const { bytes, records } = this.file.extent;
      // Their chunks are copies (`always` takes copies): no arenas to release.
      this.retained = join({ chunks: owed.flatMap((entry) => entry.chunks), extent: owedExtent, arenas: [] }, this.retained);
      this.cutNeeded = !this.file.cutBack({ bytes: bytes - owedExtent.bytes, records: records - owedExtent.records });
    }
    this.fail(message, owed.map((entry) => entry.commit));
  }

  /**
   * Seals the active file as `sealedPath` and starts a fresh one, which opens with a SEGMENT
   * record for `next` (its seq and the live floor; this file's size and records are filled in).
   * Everything appended so far is written first and, unless the policy is `never`, fsynced (its
   * commits settle then), so no record is left behind in a file the fsyncs no longer reach.
   * Throws, with nothing changed, if the file can't be sealed; returns once the old file is at
   * `sealedPath` (if even the new one couldn't be put in place, the writer fails and the retry
   * finishes the job), with the sealed file's size and inode.
   */
  rotate(sealedPath: string, next: { readonly seq: number; readonly floor: number }): { size: number; ino: number } {
    this.flush();
    if (this.failure !== null) throw new Error(this.failure);
    const sync = this.policy.kind !== "never";
    if (sync) this.syncNow();
    const { ino } = this.file.ensureExists();
    const { bytes, records } = this.file.extent;
    const fresh = this.file.prepare({ seq: next.seq, prevBytes: bytes, prevRecords: records, floor: next.floor, pack: false }, sync);
    const named = this.file.seal(sealedPath, fresh);
    this.fsyncs?.confirmAll();
    if (!named) this.fail(`could not give the new journal segment the name ${this.path}`, []);
    else this.syncDirectoryOrFail();
    return { size: bytes, ino };
  }

  /** A fresh active file under a temp name, opening with a SEGMENT record saying `info` (for `restart` or `resume`), fsynced unless `sync` is false. */
  prepareRestart(info: SegmentInfo, sync = true): FreshFile {
    return this.file.prepare(info, sync);
  }

  /**
   * The journal is being rebuilt from the queue's live state into other files: from now until
   * `restart`, nothing more may be written here, so the writer fails (sets and takes are refused).
   */
  halt(reason: string): void {
    this.lost = true;
    this.fail(reason, []);
  }

  /**
   * Makes `fresh` (from `prepareRestart`) the active file, whatever is at `path` now (everything
   * kept here is in the rebuilt journal), and recovers once the directory is fsynced (the rebuilt
   * journal's renames on disk: only then are the records still owed an fsync confirmed). Throws,
   * with nothing changed, if it can't.
   */
  restart(fresh: FreshFile): void {
    this.file.replaceWith(fresh);
    const covered = this.takeCovered();
    this.lost = this.cutNeeded = this.syncNeeded = false;
    if (!this.syncDirectoryOrFail(covered)) return;
    for (const commit of covered) commit.settle("durable");
    if (this.failure !== null) this.recovered();
  }

  /** A rebuild's files are being synced (see `hold`). */
  get holding(): boolean {
    return this.held !== null;
  }

  /**
   * A rebuild took the queue's state (after a `flush`) and syncs its new files off the event loop:
   * everything appended so far is in its journal, so what is kept here is dropped, and the commits
   * waiting on it settle once the new journal is in place (`resume`). Records appended from now on
   * wait in the batch, written to no file (the old ones are being replaced) until then.
   */
  hold(): void {
    this.held = { covered: this.takeCovered(), resumed: () => {} };
  }

  /**
   * The held rebuild committed its journal: `fresh` (synced) becomes the active file, whatever is
   * at `path` now, and once the directory is fsynced off the event loop (the renames on disk) the
   * held commits settle, the writer recovers and the records appended meanwhile are written to it;
   * then `resumed` hears null. If that fsync fails, the writer fails (the held commits with it)
   * until a retry does it; `resumed` hears the error. Throws, with nothing changed (still held),
   * if `fresh` can't be put in place.
   */
  resume(fresh: FreshFile, resumed: (error: Error | null) => void): void {
    const held = this.held!;
    this.file.replaceWith(fresh);
    this.lost = this.cutNeeded = this.syncNeeded = false;
    held.resumed = resumed;
    fsyncDirectoryAsync(dirname(this.path), (error) => {
      if (this.held === held) this.release(held, error);
    });
  }

  /** Does the directory fsync a `resume` waits for now (a clean stop can't wait); nothing to do unless one waits. */
  finishResume(): void {
    const held = this.held;
    if (held === null) return;
    let error: Error | null = null;
    try {
      this.file.syncDirectory();
    } catch (caught) {
      error = caught instanceof Error ? caught : new Error(String(caught));
    }
    this.release(held, error);
  }

  /**
   * The held rebuild failed before its journal was in place: nothing more may be written to the
   * old files, so the writer fails as `halt` does (sets and takes are refused); the held commits
   * and the records appended meanwhile wait for the next rebuild. Nothing to do unless held.
   */
  abandonHold(reason: string): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    this.halt(reason);
    for (const commit of held.covered) commit.settle("failed", reason, this.retryCommit);
  }

  /** The end of a hold once the new active file is in place; see `resume`. */
  private release(held: Held, error: Error | null): void {
    this.held = null;
    if (error !== null) {
      this.directorySyncNeeded = true;
      this.fail(`fsync of ${dirname(this.path)} failed: ${errorText(error)}`, held.covered);
    } else {
      for (const commit of held.covered) commit.settle("durable");
      if (this.failure !== null) this.recoveredBeforeBatch();
      if (this.batch !== null) markDirty(this);
    }
    held.resumed(error);
  }

  /**
   * Recovers at the end of a hold. Records appended while the writer was failing (a confirm, an
   * abort: the queue records those while failing) waited on the retry's commit and are still in
   * the batch, written to no file yet: that commit becomes the batch's and settles once they are
   * written (and, under `always`, fsynced), not now. (`fail` left no other commit pending.)
   */
  private recoveredBeforeBatch(): void {
    if (this.batch === null) return this.recovered();
    const retry = this.retryCommit!;
    this.failure = null;
    this.retryCommit = null;
    this.commit = this.latest = retry;
    this.journal.onRecovered();
  }

  /**
   * What a rebuild's journal holds, taken from the writer: the records kept or waiting (dropped)
   * and the commits waiting on them (returned), those owed an fsync included.
   */
  private takeCovered(): Commit[] {
    const owed = this.owedSyncs().map((entry) => entry.commit);
    releaseArenas(this.takeBatch().arenas);
    const covered = [...owed, this.writing?.commit, this.commit].filter((commit) => commit !== undefined && commit !== null);
    this.writing = null;
    this.commit = null;
    this.retained = NO_RECORDS;
    return covered;
  }

  /**
   * fsyncs the directory (a rename was just made); on failure the writer fails until a retry does
   * it, and `commits` (what waited for the rename) fail with it.
   */
  private syncDirectoryOrFail(commits: readonly Commit[] = []): boolean {
    try {
      this.file.syncDirectory();
      return true;
    } catch (error) {
      this.directorySyncNeeded = true;
      this.fail(`fsync of ${dirname(this.path)} failed: ${errorText(error)}`, commits);
      return false;
    }
  }

  /** The batches written and not yet confirmed by an fsync, handed over (see FsyncPipeline.takeOwed). */
  private owedSyncs(): Unsynced[] {
    return this.fsyncs?.takeOwed() ?? [];
  }

  /** fsyncs the file now; everything written is then confirmed. Throws (and fails) on error. */
  private syncNow(): void {
    try {
      this.file.sync();
    } catch (error) {
      this.syncFailed(error, this.owedSyncs());
      throw error;
    }
    this.fsyncs?.confirmAll();
  }

  /**
   * Writes what waits and, unless the policy is `never`, fsyncs the file now: every record
   * appended so far is then on disk as the policy promises. Throws if it can't (the writer failed).
   */
  settleNow(): void {
    this.flush();
    if (this.failure !== null) throw new Error(this.failure);
    if (this.policy.kind !== "never") this.syncNow();
  }

  /** Bytes were written since the last fsync (`close` would fsync). */
  get unsynced(): boolean {
    return this.file.unsynced;
  }

  /** The whole file system was synced after everything written so far: `close` fsyncs only what comes after. */
  noteSynced(): void {
    this.file.noteSynced();
  }

  /** Writes what is pending (retrying a failure once more), forces it to disk and closes the file. */
  close(): void {
    if (this.closed) return;
    // The journal finishes a rebuild before closing; one still held can no longer be put in place.
    this.abandonHold("the journal was closed during a rebuild");
    this.flush();
    if (this.failure !== null && !this.lost) this.retry();
    if (this.failure === null) {
      try {
        this.syncNow();
      } catch {
        // syncNow failed the writer, which reported it; the replies waiting are told below.
      }
    }
    // Whatever still waits can't be written any more: those replies say so.
    const message = this.failure ?? "journal closed";
    for (const entry of this.fsyncs?.stop() ?? []) entry.commit.settle("failed", message);
    this.retryCommit?.settle("failed", message);
    this.closed = true;
    this.file.close();
  }

  /**
   * Closes the file and takes it away with `dispose` (the queue is gone; the journal sees to sealed
   * segments). Whoever waits for a commit may go on once nothing of the queue can come back: at
   * once, or once `gone` settles (a retire whose files replay to nothing only then, retire_task.ts).
   */
  erase(dispose: (path: string) => void, gone: Commit | null = null): void {
    this.closed = true;
    const waiting = [this.commit, this.writing?.commit, this.retryCommit, ...(this.held?.covered ?? []), ...(this.fsyncs?.stop() ?? []).map((e) => e.commit)];
    const settle = (): void => {
      for (const commit of waiting) commit?.settle("durable");
    };
    if (gone === null) settle();
    else gone.onSettled(settle);
    this.held = null;
    this.takeBatch();
    this.writing = null;
    this.retained = NO_RECORDS;
    this.file.close(dispose);
  }
}
