/**
 * A queue's journal: a list of sealed segments plus the active segment, and what keeps it small.
 *
 * - Appends go to the active segment (JournalWriter); once it outgrows `segmentSize` after a
 *   write, it is sealed and a fresh one started (rotation).
 * - A sealed segment is deleted once no live item was added in it, oldest first (a segment can
 *   only go after every older one, or a REMOVE it holds for an older segment's item would be
 *   lost): `releaseDead`.
 * - `compact` rewrites the live items into one pack segment that replaces all sealed segments, a
 *   slice per event-loop turn; `fill` does the same with records read from the queue as they are
 *   written (a journal a reload turned on); `reset` does it for a queue that was flushed, its
 *   commit settling once the new state is committed (the flush's reply waits for it).
 * - `readItems` reads items back for read-behind, from any segment.
 * - `checkFiles` notices segments deleted, replaced or cut short under the running server, and
 *   `rebuild` writes the queue's live state as a new journal when that happened (or the writer
 *   lost its file): the queue still holds every item, so nothing acknowledged is lost.
 *   `rebuildInTurns` does it over turns, its fsyncs off the event loop and the items waiting on
 *   disk copied a slice per turn; while it runs (`rebuilding`) nothing else rewrites, rotates or
 *   reads the files (the queue reads nothing back), and records appended wait for its new active
 *   file (JournalWriter.hold).
 *
 * The segments themselves (numbers, ids, sizes, a pending pack) are kept by SegmentList. What
 * the writer reports (a failure, a recovery) goes to the owner's JournalEvents with the queue's
 * name: one object serves every journal.
 */
import { errorText } from "../errors.ts";
import { log } from "../log.ts";
import { AddReader, type Position } from "./add_reader.ts";
import { Commit, DURABLE } from "./commit.ts";
import { moveAllAside, movingAsideInto, removeInBackground } from "./deferred_removal.ts";
import { syncDirectoryShared } from "./directory_sync.ts";
import { closeQuietly, fileSystem, removeQuietly } from "./files.ts";
import type { Item } from "./item.ts";
import { RebuildTask, rebuildJournal, type JournalParts, type RebuildEnd, type Rebuilt } from "./journal_rebuild.ts";
import { PackTask, entriesSource, writePackFile, type Pack, type PackEntry, type PackSource, type WrittenPack } from "./pack.ts";
import type { DiskRegion } from "./replay_state.ts";
import { retireInTurns } from "./retire_task.ts";
import { activePath, sealedPath } from "./segment_files.ts";
import { SegmentList, type JournalState } from "./segment_list.ts";
import type { SyncPolicy } from "./sync_policy.ts";
import { JournalWriter, type WriterEvents } from "./writer.ts";

/** What a journal tells its owner, naming its queue: one object serves every journal. */
export interface JournalEvents {
  /** The journal can't be written (the queue refuses sets and gets until it recovers). */
  onFailure(name: string, message: string): void;
  onRecovered(name: string): void;
}

/**
 * What became of a pack a journal started writing (a compaction, a fill or a reset): installed
 * (committed; an install step that failed is finished later), cancelled (something replaced it),
 * or failed, before it started writing (`started` false: the active segment could not be sealed)
 * or after.
 */
export type PackEnd = "installed" | "cancelled" | { readonly failed: string; readonly started: boolean };

export interface JournalSettings {
  readonly policy: SyncPolicy;
  /** The active segment is sealed once it is bigger than this. */
  readonly segmentSize: number;
}

/** How long one upkeep spends deleting dead segments; the rest wait for the next. */
const DELETE_SLICE_MS = 5;

export class Journal implements WriterEvents {
  private readonly segments: SegmentList;
  private readonly writer: JournalWriter;
  /** Made by the first read-back (most queues never read one: their items stay in memory). */
  private reader: AddReader | null = null;
  private compaction: PackTask | null = null;
  /** A rebuild syncing its files off the event loop (`rebuildInTurns`), until its journal is in place. */
  private rebuildTask: RebuildTask | null = null;
  /** The commit of a reset (`reset`) whose pack `compaction` is writing, until it ends. */
  private resetCommit: Commit | null = null;
  /** The active segment is sealed once it is bigger than this (JournalSettings.segmentSize). */
  private segmentSize: number;
  private erased = false;
  private closed = false;
  /** `finishPack` is writing and committing a pack at once: it is installed at once too. */
  private finishing = false;
  /** A rotation failed and was logged; logged again only once one succeeds. */
  private rotationFailing = false;
  /** `appends` when `dropDrained` last rotated: none since means the active file is still fresh. */
  private appendsAtDrain = -1;
  /** Dead segments are still being deleted, a slice per upkeep (see `releasing`). */
  private deletingDead = false;
  /** Tells the id below which every item has left the queue for good (see `setLiveFloor`). */
  private queue: { liveFloor(): number } | null = null;
  /** Segments sealed because they grew past segmentSize (Kestrel 2's `journal_rotations`). */
  rotations = 0;
  /**
   * Times the live state was written anew (Kestrel 2's `journal_rewrites`): a compaction
   * installed, a reset (flush), a drained queue's fresh segment, a rebuild.
   */
  rewrites = 0;

  constructor(
    private readonly dir: string,
    private readonly name: string,
    state: JournalState,
    settings: JournalSettings,
    private readonly events: JournalEvents,
  ) {
    this.segments = new SegmentList(dir, name, state);
    this.segmentSize = settings.segmentSize;
    this.writer = new JournalWriter(activePath(dir, name), state, settings.policy, this);
  }

  /** The reader of items back from the segments, made on first use. */
  private addReader(): AddReader {
    return (this.reader ??= new AddReader(this.segments));
  }

  /** Bytes in every segment plus what waits to be written. */
  get size(): number {
    return this.segments.sealedBytes + this.writer.size;
  }

  get segmentCount(): number {
    return this.segments.count;
  }

  get failure(): string | null {
    return this.writer.failure;
  }

  /** After a failure, tries to write what waits (see JournalWriter.retry); nothing to do otherwise. */
  retry(): void {
    this.writer.retry();
  }

  /** The active file was deleted or replaced under the writer: only `rebuild` recovers. */
  get lost(): boolean {
    return this.writer.lost;
  }

  get lastCommit(): Commit {
    return this.writer.lastCommit;
  }

  /** Records appended so far (see JournalWriter.appends). */
  get appends(): number {
    return this.writer.appends;
  }

  get compacting(): boolean {
    return this.compaction !== null;
  }

  /** A rebuild is under way (`rebuildInTurns`): the queue keeps new items in memory, upkeep waits. */
  get rebuilding(): boolean {
    return this.rebuildTask !== null;
  }

  /** Dead segments are still to be deleted: the next upkeep should go on with them. */
  get releasing(): boolean {
    return this.deletingDead;
  }

  /**
   * Creates the active file now, even with nothing to write: the queue exists on disk and is
   * loaded at the next start (a fanout child must be, to keep receiving its parent's items). A
   * journal's file is otherwise created by its first write. Throws if it can't be.
   */
  createFile(): void {
    this.writer.createFile();
  }

  /** Who tells the smallest id still live: written into each new segment, for replay to check against. */
  setLiveFloor(queue: { liveFloor(): number }): void {
    this.queue = queue;
  }

  configure(settings: JournalSettings): void {
    this.segmentSize = settings.segmentSize;
    this.writer.setPolicy(settings.policy);
  }

  /** Where the next record appended will be. */
  nextPosition(): Position {
    return { seq: this.segments.activeSeq, offset: this.writer.size };
  }

  appendAdd(item: Item): Commit {
    this.segments.noteId(item.id);
    return this.writer.appendAdd(item);
  }

  /** An item back at the head (see PersistentQueue.giveBack). */
  appendPutBack(item: Item): Commit {
    this.segments.noteId(item.id);
    return this.writer.appendPutBack(item);
  }

  appendRemove(id: number): Commit {
    return this.writer.appendRemove(id);
  }

  appendOpen(id: number): Commit {
    return this.writer.appendOpen(id);
  }

  appendAbort(id: number): Commit {
    return this.writer.appendAbort(id);
  }

  /** Reads items back from `from` (records not yet written are written first: the read may reach them). */
  readItems(from: Position, maxItems: number, maxBytes: number): { items: Item[]; next: Position } {
    // Never asked during one (the queue reads nothing back then: ItemStore); its segments are being replaced.
    if (this.rebuildTask !== null) throw new Error("the journal is being rebuilt");
    this.writer.flush();
    const result = this.addReader().read(from, maxItems, maxBytes);
    if (result.damage !== null) log.error(`queue '${this.name}': ${result.damage} while reading items back; skipped to the next intact record`);
    return result;
  }

  /**
   * Deletes sealed segments, oldest first, while no live item is in them: every item added in them
   * has an id below `minLiveId`, and none is at or after the read-behind position `readFrom`
   * (never one after a compaction's pack until it is installed: see SegmentList.deadUpTo). The
   * records that made them dead (the last REMOVEs) may still wait to be written or synced: the
   * segments go once those are on disk (at once if they are). None go while a reset is under way:
   * its flushed items are dead to the queue, but not to replay until its commit.
   */
  releaseDead(minLiveId: number, readFrom: Position | null): void {
    // A reset under way: the segments its pack replaces still hold the flushed items for replay until it commits.
    if (this.resetCommit !== null || this.rebuildTask !== null) return;
    const upTo = this.segments.deadUpTo(minLiveId, readFrom, this.compaction?.seq ?? null);
    if (upTo < 0) return;
    this.writer.flush();
    const commit = this.writer.lastCommit;
    commit.onSettled(() => {
      if (commit.state === "durable") this.deleteSealedUpTo(upTo);
    });
  }

  /**
   * Deletes the sealed segments numbered up to `upTo` (still there), oldest first, for at most
   * DELETE_SLICE_MS: each is moved aside in the turn and unlinked off the event loop
   * (SegmentList.deleteUpTo; unlinked here, a drained queue's 8 segments took 35 ms at once), but
   * renames and the directory's fsync can still take milliseconds on a busy disk; the rest go at
   * the next upkeeps. Never throws.
   */
  private deleteSealedUpTo(upTo: number): void {
    if (this.erased) return;
    try {
      const done = this.segments.deleteUpTo(upTo, performance.now() + DELETE_SLICE_MS);
      this.deletingDead = !done;
    } catch (error) {
      log.error(`queue '${this.name}': could not delete consumed journal segments (tried again at the next upkeep): ${errorText(error)}`);
    }
  }

  /** Seals the active segment now (also when small), so everything so far is in sealed segments. */
  rotate(): void {
    if (this.rebuildTask !== null) throw new Error("the journal is being rebuilt");
    // Write what is pending first: that write may itself rotate (rotateIfFull), and then `seq` moves on.
    this.writer.flush();
    const seq = this.segments.activeSeq;
    const sealed = this.writer.rotate(sealedPath(this.dir, this.name, seq), { seq: seq + 1, floor: this.queue?.liveFloor() ?? 0 });
    this.segments.sealActive(sealed.size, sealed.ino);
  }

  /**
   * Starts rewriting `entries` (every live item, in queue order) as one segment that replaces all
   * sealed segments; new records keep going to the active segment meanwhile. Resolves when the
   * compaction is done, failed or was cancelled (the queue doesn't wait; tests do).
   */
  compact(entries: readonly PackEntry[]): Promise<void> {
    if (this.compaction !== null || this.erased || this.rebuildTask !== null) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    const before = this.size;
    const started = performance.now();
    this.startPack(entriesSource(entries), (end) => {
      if (end === "installed") log.info(`queue '${this.name}': compacted the journal from ${mib(before)} to ${mib(this.size)} in ${(performance.now() - started).toFixed(0)} ms`);
      else if (end !== "cancelled") log.error(`queue '${this.name}': ${end.started ? "compaction failed, the journal stays as it was" : "could not start a compaction"}: ${end.failed}`);
      resolve();
    });
    return promise;
  }

  /**
   * Starts writing the live state `source` gives (read from the queue as it is written: a
   * journal a reload turned on, see src/queue/journal_fill.ts) as one segment that replaces all
   * sealed segments, `sliceBytes` of records a turn, as `compact` does; `ended` hears what became
   * of it (at once, failed, while a compaction or another fill runs or once the journal is erased:
   * a fill is for a new journal).
   */
  fill(source: PackSource, ended: (end: PackEnd) => void, sliceBytes?: number): void {
    if (this.compaction !== null || this.erased || this.rebuildTask !== null) return ended({ failed: "the journal is being rewritten or was erased", started: false });
    // The pack leaves out the items taken before it reached them: their records must be on disk first.
    this.startPack(source, ended, sliceBytes, () => this.writer.settleNow());
  }

  /** Gives up a compaction or fill under way (its `ended` hears "cancelled"); nothing to do if none runs. */
  cancelPack(): void {
    const compaction = this.compaction;
    this.compaction = null;
    compaction?.cancel();
  }

  /** Writes the rest of a compaction or fill and commits and installs it now (a clean stop); nothing to do if none runs. */
  finishPack(): void {
    this.finishing = true;
    try {
      this.compaction?.finish();
    } finally {
      this.finishing = false;
    }
  }

  /**
   * Installs the committed pack `seq` (SegmentList.install) with its directory fsyncs off the
   * event loop (installInTurns: the three of an install took up to tens of ms in one turn), or at
   * once when a pack is being finished (`finishPack`); then `done`. A step that fails is logged
   * and finished later (the pack stays pending).
   */
  private installCommitted(seq: number, maxId: number, done: () => void): void {
    const failed = (error: unknown): void => log.error(`queue '${this.name}': installing the rewritten journal failed (finished at the next upkeep or start): ${errorText(error)}`);
    this.reader?.close(); // its file may be one of those replaced
    if (this.finishing) {
      try {
        this.install(seq, maxId);
      } catch (error) {
        failed(error);
      }
      return done();
    }
    this.segments.installInTurns(seq, maxId, (error) => {
      this.reader?.close();
      if (error !== null) failed(error);
      done();
    });
  }

  /**
   * Seals the active segment and starts writing `source` as the pack replacing every sealed
   * segment; `ended` is called once: "installed" (committed; a failed install step is finished
   * later and logged), "cancelled" (cancelPack, or reset, rebuild, dropDrained, retire, erase or
   * close replaced it), or why it failed (nothing changed that replay would see).
   */
  private startPack(source: PackSource, ended: (end: PackEnd) => void, sliceBytes?: number, beforeCommit?: () => void): void {
    try {
      this.finishPendingPack();
      this.rotate();
    } catch (error) {
      return ended({ failed: errorText(error), started: false });
    }
    const seq = this.segments.activeSeq - 1;
    const place = { dir: this.dir, name: this.name, seq, floor: this.queue?.liveFloor() ?? 0 };
    this.compaction = new PackTask(
      place,
      source,
      (error) => {
        this.compaction = null;
        if (error !== null) return ended({ failed: error, started: true });
        this.rewrites++; // the pack is committed: a failed install step is finished later
        this.installCommitted(seq, source.maxId, () => ended("installed"));
      },
      () => ended("cancelled"),
      sliceBytes,
      beforeCommit,
    );
  }

  /**
   * Replaces the whole journal with one holding just `entries` (the open items of a flushed
   * queue) without a long turn: the active segment is sealed now (new records go to the next one,
   * which the new state keeps), and `entries` are written as the pack replacing every sealed
   * segment as a compaction's is, fsynced off the event loop (PackTask), then committed and
   * installed (the install's first directory fsync puts the commit on disk). Returns the commit
   * that settles durable then, or failed (the old journal still replays, the new records after
   * it: the owner must have the journal rebuilt). Until then a crash replays to the old state
   * followed by the records appended since. A reset still pending is replaced: its commit settles
   * with this one's. Throws, with nothing changed that replay would see, if the active segment
   * can't be sealed, or a rebuild is under way (`rebuildInTurns`: a flush then is refused, for a
   * moment).
   */
  reset(entries: readonly PackEntry[]): Commit {
    if (this.rebuildTask !== null) throw new Error("its journal is being rebuilt from the queue, try again in a moment");
    const previous = this.takeReset();
    this.cancelPack();
    this.reader?.close();
    const commit = new Commit();
    if (previous !== null) commit.onSettled(() => previous.settle(commit.state === "durable" ? "durable" : "failed", commit.error));
    this.resetCommit = commit;
    const start = { failed: null as string | null };
    this.startPack(entriesSource(entries), (end) => {
      if (typeof end === "object" && !end.started) start.failed = end.failed;
      if (this.resetCommit !== commit) return; // taken over (see takeReset)
      this.resetCommit = null;
      if (end === "installed") return commit.settle("durable");
      commit.settle("failed", end === "cancelled" ? "its new journal was given up" : `its new journal could not be written: ${end.failed}`);
    });
    if (start.failed !== null) throw new Error(start.failed);
    return commit;
  }

  /** The commit of a reset under way, handed over to whoever ends it otherwise (a new reset, a rebuild, the journal going away), or null. */
  private takeReset(): Commit | null {
    const commit = this.resetCommit;
    this.resetCommit = null;
    return commit;
  }

  /**
   * A drained queue (nothing queued or open) keeps only a fresh active segment: the others go, as
   * consumed segments do. Throws for I/O errors.
   */
  dropDrained(): void {
    // A reset under way makes the journal as small: its pack is left to finish (a later upkeep drops what is left).
    if (this.resetCommit !== null || this.rebuildTask !== null) return;
    this.compaction?.cancel();
    this.compaction = null;
    this.reader?.close();
    this.finishPendingPack();
    // Called again while the dead segments are still being deleted: no new segment each time.
    if (this.writer.appends !== this.appendsAtDrain) {
      this.rotate();
      this.appendsAtDrain = this.writer.appends;
      this.rewrites++;
    }
    this.releaseDead(Infinity, null);
  }

  /**
   * What is wrong with this journal's files under the running server, or null: the active file
   * deleted or replaced, a sealed segment missing, replaced or shorter than when it was sealed.
   * Any of these means the files no longer replay to the queue: `rebuild` it. (Sealed segments are
   * not checked while a pack's install is pending: some of them are gone on purpose.)
   */
  checkFiles(): string | null {
    const active = activePath(this.dir, this.name);
    const damage = this.writer.fileDamage();
    if (damage !== null) return `${active} ${damage}`;
    const ino = this.writer.fileInode();
    const file = fileSystem.stat(active);
    if (ino !== null && (file === null || file.ino !== ino)) return `${active} was deleted or replaced`;
    return this.segments.check();
  }

  /**
   * Writes the queue's live state as a new journal that replaces every file of this one, whatever
   * became of them (see journal_rebuild.ts): `entries` are the items in memory, `disk` where the
   * items waiting on disk start. Returns where those are now. Throws if it can't; an upkeep tries
   * again.
   */
  rebuild(entries: readonly PackEntry[], disk: DiskRegion | null): Rebuilt {
    this.finishRebuild();
    // The rebuilt journal holds the queue's state, a reset's included: its commit settles with the rebuild.
    const reset = this.takeReset();
    this.compaction?.cancel();
    this.compaction = null;
    this.reader?.close();
    try {
      const rebuilt = rebuildJournal(this.parts(), entries, disk);
      this.rewrites++;
      reset?.settle("durable");
      return rebuilt;
    } catch (error) {
      reset?.settle("failed", `its new journal could not be written: ${errorText(error)}`);
      throw error;
    } finally {
      this.reader?.close();
    }
  }

  /**
   * `rebuild` over turns: `entries` are the items in memory (in queue order), `disk` where the
   * items waiting on disk start (copied into the pack a slice per turn); its fsyncs run off the
   * event loop and its steps over turns (RebuildTask); `ended` hears, never during the call, that
   * it committed (the writer resumed on the new active file, the pack installed over turns after,
   * or left pending if a step failed), why it failed (the writer then fails until a rebuild
   * works: an upkeep tries again), or that it was given up (the journal erased).
   * Throws, with nothing changed, if its files can't even be written. Returns false, starting
   * nothing (`ended` is not called), while one runs or once the journal was closed or erased.
   */
  rebuildInTurns(entries: readonly PackEntry[], ended: (end: RebuildEnd) => void, disk: DiskRegion | null = null): boolean {
    if (this.rebuildTask !== null || this.erased || this.closed) return false;
    // The rebuilt journal holds the queue's state, a reset's included: its commit settles with the rebuild.
    const reset = this.takeReset();
    this.compaction?.cancel();
    this.compaction = null;
    this.reader?.close();
    const task: RebuildTask = (() => {
      try {
        return new RebuildTask(this.parts(), entries, disk, (seq, maxId, done) => this.installCommitted(seq, maxId, done), (end) => {
          // Erased: nothing of the queue comes back once its files are gone, a reset under way is as good as done.
          if (end === "cancelled") reset?.settle("durable");
          if (end === "cancelled" || this.rebuildTask !== task) return ended(end);
          this.rebuildTask = null;
          this.reader?.close();
          if ("rebuilt" in end) this.rewrites++;
          reset?.settle("rebuilt" in end ? "durable" : "failed", "rebuilt" in end ? "" : `its new journal could not be written: ${end.failed}`);
          ended(end);
        });
      } catch (error) {
        this.reader?.close();
        reset?.settle("failed", `its new journal could not be written: ${errorText(error)}`);
        throw error;
      }
    })();
    this.rebuildTask = task;
    return true;
  }

  /** Puts a rebuild under way in place now (a clean stop can't wait for its turns); nothing to do if none runs. */
  finishRebuild(): void {
    this.rebuildTask?.finish();
  }

  /** The parts of this journal a rebuild works on. */
  private parts(): JournalParts {
    return { dir: this.dir, name: this.name, segments: this.segments, writer: this.writer, reader: this.addReader(), pack: (seq, items) => this.pack(seq, items) };
  }

  private pack(seq: number, entries: readonly PackEntry[]): Pack {
    return { dir: this.dir, name: this.name, seq, entries, floor: this.queue?.liveFloor() ?? 0 };
  }

  /** Bytes were written since the last fsync. */
  get unsynced(): boolean {
    return this.writer.unsynced;
  }

  /** The whole file system was synced after everything written so far (see JournalWriter.noteSynced). */
  noteSynced(): void {
    this.writer.noteSynced();
  }

  /** Writes what is pending, fsyncs and closes the active segment; a reset under way is written and committed first (finishPack), and an install under way finished. */
  close(): void {
    this.closed = true;
    this.finishRebuild();
    if (this.resetCommit !== null) this.finishPack();
    try {
      this.finishPendingPack(); // an install under way (installCommitted) is done now
    } catch (error) {
      log.error(`queue '${this.name}': installing the rewritten journal failed (finished at the next start): ${errorText(error)}`);
    }
    this.compaction?.cancel();
    this.compaction = null;
    this.reader?.close();
    this.writer.close();
  }

  /**
   * Deletes every file of this journal (the queue is gone): each is moved aside, oldest first, so
   * a crash part way leaves only a tail that replays consistently, and the names are free at once;
   * the files are deleted off the event loop (deferred_removal.ts). Tries every file; throws the
   * first error after.
   */
  erase(): void {
    this.erased = true;
    // Nothing of the queue comes back once its files are gone: a reset under way is as good as done.
    this.takeReset()?.settle("durable");
    this.cancelRebuild();
    this.compaction?.cancel();
    this.compaction = null;
    this.reader?.close();
    const { paths, errors } = this.segments.moveFilesAside();
    try {
      this.writer.erase(movingAsideInto(paths));
    } catch (error) {
      errors.push(error);
    }
    removeInBackground(paths);
    if (errors.length > 0) throw errors[0];
  }

  /**
   * Deletes every file of this journal, as `erase` does, for a queue that dropped it with every
   * item in memory (a reload turned it off) or was deleted, without a long turn and without an
   * fsync in it (retire_task.ts: on a slow disk the four fsyncs made here in one turn stalled every
   * client 10-50 ms each). In this turn the records appended so far are written, the active file is
   * renamed to the last sealed segment `seq` and an empty pack replacing every segment up to `seq`
   * is written to a temp file; over the next turns the pack is fsynced and committed, the old files
   * moved aside and the pack deleted, a directory fsync off the event loop between each step. The
   * queue's file names are free for a new journal at once: one made meanwhile numbers its segments
   * after `seq` and its items after this journal's (open_journal.ts), so the retire never touches
   * its files. A crash at any point, a power loss included, replays to this journal as it was or to
   * nothing, never to an older state whose consumed items would come back; the commits of records
   * still waiting for their fsync settle once the pack is on disk. A journal that is its active
   * file alone is erased at once (one rename), and so is one that can't be written or is being
   * rebuilt, or whose first step fails (logged); its commit then settles once a directory fsync
   * off the event loop put that on disk. Returns the commit that settles once nothing of
   * the queue can come back, a power loss included (a `delete`'s reply waits for it). Throws only
   * for an `erase` that failed.
   */
  retire(): Commit {
    if (this.erased) return DURABLE;
    // Its files are being replaced: they all go at once.
    if (this.rebuildTask !== null) return this.eraseNow();
    // The active file alone: moving it aside is one step already, with nothing to fsync first.
    if (this.segments.count === 1 && !this.segments.hasPendingPack) return this.eraseNow();
    // The records still waiting are written first: the old journal must replay as it was until the pack is on disk.
    this.writer.flush();
    if (this.writer.failure !== null) {
      this.cannotMarkEmpty(this.writer.failure);
      return this.eraseNow();
    }
    const seq = this.segments.activeSeq;
    let pack: WrittenPack;
    try {
      pack = writePackFile(this.pack(seq, []));
    } catch (error) {
      this.cannotMarkEmpty(errorText(error));
      return this.eraseNow();
    }
    this.erased = true;
    // Nothing of the queue comes back once the pack is on disk: a reset under way is as good as done.
    const gone = new Commit();
    const reset = this.takeReset();
    if (reset !== null) gone.onSettled(() => reset.settle("durable"));
    this.compaction?.cancel();
    this.compaction = null;
    this.reader?.close();
    const maxId = this.segments.maxId;
    const paths = this.segments.handOverFiles();
    const active = activePath(this.dir, this.name);
    const sealed = sealedPath(this.dir, this.name, seq);
    const aside: string[] = [];
    try {
      this.writer.erase((path) => {
        if (path !== active) return movingAsideInto(aside)(path);
        if (fileSystem.stat(path) === null) return;
        fileSystem.rename(path, sealed);
        paths.push(sealed);
      }, gone);
    } catch (error) {
      return this.dropAtOnce([...paths, active], pack, gone, error);
    } finally {
      removeInBackground(aside);
    }
    retireInTurns({ dir: this.dir, name: this.name, seq, maxId, paths, pack, gone });
    return gone;
  }

  /**
   * `retire`'s first step failed (`error`) after the writer was closed: `paths` (the old files, the
   * active one last) are moved aside at once, as `erase` does, and the pack written for it goes.
   * Throws the first error moving them.
   */
  private dropAtOnce(paths: readonly string[], pack: WrittenPack, gone: Commit, error: unknown): Commit {
    this.cannotMarkEmpty(errorText(error));
    closeQuietly(pack.fd);
    removeQuietly(pack.temp);
    gone.settle("durable");
    const moved: string[] = [];
    const { errors } = moveAllAside(paths, moved);
    removeInBackground(moved);
    if (errors.length > 0) throw errors[0];
    return this.onceMovesOnDisk();
  }

  /** `retire` falls back to deleting the files at once, `reason` being why its first step could not be made. */
  private cannotMarkEmpty(reason: string): void {
    log.warn(`queue '${this.name}': could not mark the journal empty (${reason}); deleting its files at once`);
  }

  /**
   * `erase`, for `retire`; returns the commit that settles once a directory fsync (off the event
   * loop) put the files' moves on disk: before it, a power loss could bring them back, with every
   * item the queue had (a failed fsync is logged, and settles it all the same: nothing more can
   * be done). Throws as `erase` does.
   */
  private eraseNow(): Commit {
    this.erase();
    return this.onceMovesOnDisk();
  }

  /** A commit that settles once a directory fsync off the event loop (shared, directory_sync.ts) put the files moved aside so far on disk (see `eraseNow`). */
  private onceMovesOnDisk(): Commit {
    const gone = new Commit();
    // Names, not `this`: the journal (and its queue) need not outlive the fsync.
    const { dir, name } = this;
    syncDirectoryShared(dir, (error) => {
      if (error !== null) log.warn(`queue '${name}': could not fsync ${dir} after deleting the journal files (a power loss may bring them back): ${errorText(error)}`);
      gone.settle("durable");
    });
    return gone;
  }

  /** Gives a rebuild under way up (the journal is being erased; the writer settles what it held). */
  private cancelRebuild(): void {
    this.rebuildTask?.cancel();
    this.rebuildTask = null;
  }

  /** The writer failed (WriterEvents): the owner hears it with the queue's name. */
  onFailure(message: string): void {
    this.events.onFailure(this.name, message);
  }

  onRecovered(): void {
    this.events.onRecovered(this.name);
  }

  /** Seals the active segment if it outgrew segmentSize (the writer calls it after each batch it finished writing). Never throws. */
  rotateIfFull(): void {
    // A rebuild under way seals nothing: the next write after it ends does.
    if (this.writer.size <= this.segmentSize || this.erased || this.writer.failure !== null || this.rebuildTask !== null) return;
    try {
      this.rotate();
      this.rotations++;
    } catch (error) {
      if (!this.rotationFailing) log.error(`queue '${this.name}': could not rotate the journal, appending to the current segment (logged once until it works): ${errorText(error)}`);
      this.rotationFailing = true;
      return;
    }
    if (this.rotationFailing) log.info(`queue '${this.name}': journal rotation works again`);
    this.rotationFailing = false;
  }

  /** Finishes the install of a pack cut short by a fault (nothing to do if there is none). Throws if it fails again. */
  finishPendingPack(): void {
    this.reader?.close(); // its file may be one of those replaced
    this.segments.finishPending();
  }

  /** Replaces the sealed segments up to `seq` with the committed pack `seq` (see SegmentList.install). */
  private install(seq: number, maxId: number): void {
    this.reader?.close(); // its file may be one of those replaced
    this.segments.install(seq, maxId);
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
