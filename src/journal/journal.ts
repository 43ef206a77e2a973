/**
 * A queue's journal: a list of sealed segments plus the active segment, and what keeps it small.
 *
 * - Appends go to the active segment (JournalWriter); once it outgrows `segmentSize` after a
 *   write, it is sealed and a fresh one started (rotation).
 * - A sealed segment is deleted once no live item was added in it, oldest first (a segment can
 *   only go after every older one, or a REMOVE it holds for an older segment's item would be
 *   lost): `releaseDead`.
 * - `compact` rewrites the live items into one pack segment that replaces all sealed segments, a
 *   slice per event-loop turn; `reset` does the same at once for a queue that was flushed.
 * - `readItems` reads items back for read-behind, from any segment.
 * - `checkFiles` notices segments deleted, replaced or cut short under the running server, and
 *   `rebuild` writes the queue's live state as a new journal when that happened (or the writer
 *   lost its file): the queue still holds every item, so nothing acknowledged is lost.
 *
 * Invariants: sealed segments are in ascending seq and replayed in that order, then the active
 * one; segment seqs are contiguous; `maxId` of a segment is the highest item id added in it, and
 * ids grow from segment to segment (a pack holds only ids below those of later segments).
 */
import { errorText } from "../errors.ts";
import { log } from "../log.ts";
import { AddReader, type Position } from "./add_reader.ts";
import type { Commit } from "./commit.ts";
import { discard, type FreshFile } from "./active_file.ts";
import { FILE_HEADER_SIZE } from "./record.ts";
import type { DiskRegion } from "./replay_state.ts";
import { fileSystem, fsyncDirectory, removeQuietly, statIfExists } from "./files.ts";
import type { Item } from "./item.ts";
import { PackTask, commitPack, installPack, preparePack, writePack, type ItemSource, type Pack, type PackEntry, type PreparedPack } from "./pack.ts";
import { activePath, packPath, sealedPath, segmentPath } from "./segment_files.ts";
import type { SyncPolicy } from "./sync_policy.ts";
import { JournalWriter, type WriterEvents } from "./writer.ts";

export interface SealedSegment {
  readonly seq: number;
  readonly maxId: number;
  readonly size: number;
  /** The file's inode, to notice it being replaced. */
  readonly ino: number;
}

export interface JournalSettings {
  readonly policy: SyncPolicy;
  /** The active segment is sealed once it is bigger than this. */
  readonly segmentSize: number;
}

/** What a rebuild did with the items that waited on disk: where those it could copy are now, and how many it could not. */
export interface Rebuilt {
  readonly disk: DiskRegion | null;
  readonly lost: number;
}

export interface JournalState {
  readonly sealed: SealedSegment[];
  readonly activeSeq: number;
  readonly activeMaxId: number;
  /** Intact records in the active segment. */
  readonly activeRecords: number;
}

export class Journal {
  private readonly sealed: SealedSegment[];
  private activeSeq: number;
  private activeMaxId: number;
  private readonly writer: JournalWriter;
  private readonly reader: AddReader;
  private compaction: PackTask | null = null;
  private settings: JournalSettings;
  private erased = false;
  /** A rotation failed and was logged; logged again only once one succeeds. */
  private rotationFailing = false;
  /** A pack committed but not yet installed (an install step failed): finished before anything else. */
  private pendingPack: { readonly seq: number; readonly maxId: number } | null = null;
  /** Every item with a smaller id has left the queue for good (the queue tells; see `setLiveFloor`). */
  private liveFloor: () => number = () => 0;

  constructor(
    private readonly dir: string,
    private readonly name: string,
    state: JournalState,
    settings: JournalSettings,
    events: WriterEvents,
  ) {
    this.sealed = [...state.sealed];
    this.activeSeq = state.activeSeq;
    this.activeMaxId = state.activeMaxId;
    this.settings = settings;
    this.writer = new JournalWriter(activePath(dir, name), state.activeRecords, settings.policy, { ...events, onWritten: () => this.rotateIfFull() });
    this.reader = new AddReader({
      pathOf: (seq) => segmentPath(this.dir, this.name, seq, this.activeSeq),
      nextSeq: (seq) => this.segmentAfter(seq),
    });
  }

  /** Bytes in every segment plus what waits to be written. */
  get size(): number {
    return this.sealed.reduce((sum, segment) => sum + segment.size, 0) + this.writer.size;
  }

  get segmentCount(): number {
    return this.sealed.length + 1;
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

  get compacting(): boolean {
    return this.compaction !== null;
  }

  /** How to learn the smallest id still live: written into each new segment, for replay to check against. */
  setLiveFloor(floor: () => number): void {
    this.liveFloor = floor;
  }

  configure(settings: JournalSettings): void {
    this.settings = settings;
    this.writer.setPolicy(settings.policy);
  }

  /** Where the next record appended will be. */
  nextPosition(): Position {
    return { seq: this.activeSeq, offset: this.writer.size };
  }

  appendAdd(item: Item): Commit {
    if (item.id > this.activeMaxId) this.activeMaxId = item.id;
    return this.writer.appendAdd(item);
  }

  /** An item back at the head (see PersistentQueue.giveBack). */
  appendPutBack(item: Item): Commit {
    if (item.id > this.activeMaxId) this.activeMaxId = item.id;
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
    this.writer.flush();
    const result = this.reader.read(from, maxItems, maxBytes);
    if (result.damage !== null) log.error(`queue '${this.name}': ${result.damage} while reading items back; skipped to the next intact record`);
    return result;
  }

  /**
   * Deletes sealed segments, oldest first, while no live item is in them: every item added in them
   * has an id below `minLiveId`, and none is at or after the read-behind position `readFrom`. The
   * records that made them dead (the last REMOVEs) may still wait to be written or synced: the
   * segments go once those are on disk (at once if they are).
   */
  releaseDead(minLiveId: number, readFrom: Position | null): void {
    let upTo = -1;
    for (const segment of this.sealed) {
      if (segment.maxId >= minLiveId || (readFrom !== null && segment.seq >= readFrom.seq)) break;
      upTo = segment.seq;
    }
    if (upTo < 0) return;
    this.writer.flush();
    const commit = this.writer.lastCommit;
    commit.onSettled(() => {
      if (commit.state === "durable") this.deleteSealedUpTo(upTo);
    });
  }

  /** Deletes the sealed segments numbered up to `upTo` (still there), oldest first. Never throws. */
  private deleteSealedUpTo(upTo: number): void {
    if (this.erased) return;
    try {
      let deleted = false;
      for (let oldest = this.sealed[0]; oldest !== undefined && oldest.seq <= upTo; oldest = this.sealed[0]) {
        fileSystem.remove(sealedPath(this.dir, this.name, oldest.seq));
        this.sealed.shift();
        deleted = true;
      }
      if (deleted) fsyncDirectory(this.dir);
    } catch (error) {
      log.error(`queue '${this.name}': could not delete consumed journal segments (tried again at the next upkeep): ${errorText(error)}`);
    }
  }

  /** Seals the active segment now (also when small), so everything so far is in sealed segments. */
  rotate(): void {
    // Write what is pending first: that write may itself rotate (onWritten), and then `seq` moves on.
    this.writer.flush();
    const seq = this.activeSeq;
    const size = this.writer.size;
    const ino = this.writer.fileInode();
    this.writer.rotate(sealedPath(this.dir, this.name, seq), { seq: seq + 1, floor: this.liveFloor() });
    this.sealed.push({ seq, maxId: this.activeMaxId, size, ino });
    this.activeSeq = seq + 1;
    this.activeMaxId = 0;
  }

  /**
   * Starts rewriting `entries` (every live item, in queue order) as one segment that replaces all
   * sealed segments; new records keep going to the active segment meanwhile. Resolves when the
   * compaction is done, failed or was cancelled (the queue doesn't wait; tests do).
   */
  compact(entries: readonly PackEntry[]): Promise<void> {
    if (this.compaction !== null || this.erased) return Promise.resolve();
    try {
      this.finishPendingPack();
      this.rotate();
    } catch (error) {
      log.error(`queue '${this.name}': could not start a compaction: ${errorText(error)}`);
      return Promise.resolve();
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    const seq = this.activeSeq - 1;
    const before = this.size;
    const started = performance.now();
    this.compaction = new PackTask(this.pack(seq, entries), (error) => {
      this.compaction = null;
      if (error !== null) log.error(`queue '${this.name}': compaction failed, the journal stays as it was: ${error}`);
      else this.installCompaction(seq, maxIdOf(entries), before, started);
      resolve();
    }, resolve);
    return promise;
  }

  /**
   * Replaces the whole journal at once with one holding just `entries` (the open items of a
   * flushed queue, or every live item of a queue getting a new journal). Throws, with nothing
   * changed that replay would see, if the new state can't be committed; once it is (the pack's
   * rename), a failing install step is finished later and this returns normally.
   */
  reset(entries: readonly PackEntry[]): void {
    this.compaction?.cancel();
    this.compaction = null;
    this.reader.close();
    this.finishPendingPack();
    this.rotate();
    const seq = this.activeSeq - 1;
    writePack(this.pack(seq, entries));
    try {
      this.install(seq, maxIdOf(entries));
    } catch (error) {
      log.error(`queue '${this.name}': installing the new journal failed (finished at the next upkeep or start): ${errorText(error)}`);
    }
  }

  /**
   * A drained queue (nothing queued or open) keeps only a fresh active segment: the others go, as
   * consumed segments do. Throws for I/O errors.
   */
  dropDrained(): void {
    this.compaction?.cancel();
    this.compaction = null;
    this.reader.close();
    this.finishPendingPack();
    this.rotate();
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
    const file = statIfExists(active);
    if (file === null || file.ino !== this.writer.fileInode()) return `${active} was deleted or replaced`;
    if (this.pendingPack !== null) return null;
    for (const segment of this.sealed) {
      const path = sealedPath(this.dir, this.name, segment.seq);
      const sealed = statIfExists(path);
      if (sealed === null) return `${path} was deleted`;
      if (!sealed.isFile || sealed.ino !== segment.ino) return `${path} was replaced`;
      if (sealed.size < segment.size) return `${path} was cut from ${segment.size} to ${sealed.size} bytes`;
    }
    return null;
  }

  /**
   * Writes the queue's live state as a new journal that replaces every file of this one, whatever
   * became of them, and starts a fresh active segment; the writer recovers. `entries` are the items
   * in memory (open ones first, in queue order); `disk`, if items wait on disk, says where they
   * start: they are copied from the segments still there, a slice at a time (a segment that can't
   * be read is skipped, its items lost). Returns where the copied items now are. Throws if the new
   * journal can't be committed (nothing changed; if the old active file had to be moved, the
   * writer stays failed); an upkeep tries again.
   *
   * Crash safety: the pack and the fresh active file are written under temp names first; then
   * whatever is at the active name is renamed to the sealed name the pack replaces and the pack is
   * committed as in a compaction, so a crash at any point replays to either the old files or the
   * live state, never a mix.
   */
  rebuild(entries: readonly PackEntry[], disk: DiskRegion | null): Rebuilt {
    this.compaction?.cancel();
    this.compaction = null;
    this.reader.close();
    fileSystem.mkdir(this.dir);
    const seq = this.activeSeq;
    const active = activePath(this.dir, this.name);
    const replaced = [...this.sealed.map((segment) => segment.seq), seq];
    for (const path of [active, ...replaced.map((old) => sealedPath(this.dir, this.name, old))]) {
      if (statIfExists(path)?.isDirectory) throw new Error(`${path} is a directory; remove it so the journal can be rebuilt`);
    }
    const pack = this.pack(seq, entries);
    const prepared = preparePack(pack, disk === null ? null : this.carryOver(disk));
    this.reader.close();
    let fresh: FreshFile;
    try {
      fresh = this.writer.prepareRestart({ seq: seq + 1, prevBytes: prepared.extent.bytes, prevRecords: prepared.extent.records, floor: pack.floor, pack: false });
    } catch (error) {
      removeQuietly(prepared.temp);
      throw error;
    }
    this.commitRebuild(pack, prepared, fresh);
    if (this.pendingPack !== null && this.pendingPack.seq !== seq) removeQuietly(packPath(this.dir, this.name, this.pendingPack.seq));
    this.sealed.splice(0, this.sealed.length, ...replaced.map((old) => ({ seq: old, maxId: 0, size: 0, ino: 0 })));
    this.pendingPack = { seq, maxId: Math.max(maxIdOf(entries), prepared.tail?.maxId ?? 0) };
    this.activeSeq = seq + 1;
    this.activeMaxId = 0;
    try {
      this.writer.restart(fresh);
      this.finishPendingPack();
    } catch (error) {
      discard(fresh);
      // Committed all the same: the writer stays failed until the next upkeep rebuilds again.
      if (!this.writer.lost) this.writer.halt(`could not start the rebuilt journal at ${active}: ${errorText(error)}`);
    }
    const tail = prepared.tail;
    return {
      disk: tail === null ? null : { start: { seq, offset: tail.offset }, count: tail.count, bytes: tail.bytes, minId: tail.minId },
      lost: (disk?.count ?? 0) - (tail?.count ?? 0),
    };
  }

  /** Moves whatever is at the active name aside and commits the pack; on failure puts things back (or halts the writer). */
  private commitRebuild(pack: Pack, prepared: PreparedPack, fresh: FreshFile): void {
    const active = activePath(this.dir, this.name);
    const aside = sealedPath(this.dir, this.name, pack.seq);
    let moved = false;
    try {
      if (statIfExists(active) !== null) {
        fileSystem.rename(active, aside);
        moved = true;
      }
      commitPack(pack, prepared);
    } catch (error) {
      discard(fresh);
      removeQuietly(prepared.temp);
      if (moved) this.moveBack(aside, active, error);
      throw error;
    }
  }

  /** Undoes the move of the active file; if even that fails, nothing more may be written to it. */
  private moveBack(aside: string, active: string, cause: unknown): void {
    try {
      fileSystem.rename(aside, active);
    } catch {
      this.writer.halt(`the journal rebuild failed after moving ${active} aside: ${errorText(cause)}`);
    }
  }

  /**
   * The items waiting on disk from `region` on, a slice at a time, for a rebuild. A segment that
   * can't be read is skipped (its items are lost); an active file that is no longer the writer's
   * is not read at all (it may be anything now).
   */
  private carryOver(region: DiskRegion): ItemSource {
    let position = region.start;
    let left = region.count;
    const activeIsOurs = !this.writer.lost;
    return (maxBytes) => {
      while (left > 0 && (activeIsOurs || position.seq !== this.activeSeq)) {
        try {
          const { items, next } = this.reader.read(position, left, maxBytes);
          position = next;
          left -= items.length;
          return items;
        } catch {
          const next = this.segmentAfter(position.seq);
          if (next === null) return [];
          position = { seq: next, offset: FILE_HEADER_SIZE };
        }
      }
      return [];
    };
  }

  /** The segment after `seq`, or null if `seq` is the active one. */
  private segmentAfter(seq: number): number | null {
    return seq === this.activeSeq ? null : (this.sealed.find((segment) => segment.seq > seq)?.seq ?? this.activeSeq);
  }

  private pack(seq: number, entries: readonly PackEntry[]): Pack {
    return { dir: this.dir, name: this.name, seq, entries, floor: this.liveFloor() };
  }

  /** Writes what is pending, fsyncs and closes the active segment. */
  close(): void {
    this.compaction?.cancel();
    this.compaction = null;
    this.reader.close();
    this.writer.close();
  }

  /**
   * Deletes every file of this journal (the queue is gone), oldest first, so a crash part way
   * leaves only a tail that replays consistently. Tries every file; throws the first error after.
   */
  erase(): void {
    this.erased = true;
    this.compaction?.cancel();
    this.compaction = null;
    this.reader.close();
    const errors: unknown[] = [];
    const attempt = (remove: () => void) => {
      try {
        remove();
      } catch (error) {
        errors.push(error);
      }
    };
    for (const segment of this.sealed) attempt(() => fileSystem.remove(sealedPath(this.dir, this.name, segment.seq)));
    const pack = this.pendingPack;
    if (pack !== null) attempt(() => fileSystem.remove(packPath(this.dir, this.name, pack.seq)));
    attempt(() => this.writer.erase());
    this.pendingPack = null;
    this.sealed.length = 0;
    if (errors.length > 0) throw errors[0];
  }

  private rotateIfFull(): void {
    if (this.writer.size <= this.settings.segmentSize || this.erased || this.writer.failure !== null) return;
    try {
      this.rotate();
    } catch (error) {
      if (!this.rotationFailing) log.error(`queue '${this.name}': could not rotate the journal, appending to the current segment (logged once until it works): ${errorText(error)}`);
      this.rotationFailing = true;
      return;
    }
    if (this.rotationFailing) log.info(`queue '${this.name}': journal rotation works again`);
    this.rotationFailing = false;
  }

  private installCompaction(seq: number, maxId: number, before: number, started: number): void {
    try {
      this.install(seq, maxId);
    } catch (error) {
      log.error(`queue '${this.name}': installing the compacted journal failed (finished at the next upkeep or start): ${errorText(error)}`);
      return;
    }
    log.info(`queue '${this.name}': compacted the journal from ${mib(before)} to ${mib(this.size)} in ${(performance.now() - started).toFixed(0)} ms`);
  }

  /** Finishes the install of a pack cut short by a fault (nothing to do if there is none). Throws if it fails again. */
  finishPendingPack(): void {
    if (this.pendingPack !== null) this.install(this.pendingPack.seq, this.pendingPack.maxId);
  }

  /**
   * Replaces the sealed segments up to `seq` with the committed pack `seq`, whose highest item id
   * is `maxId`. If a step fails, the pack stays pending and the next upkeep finishes it first.
   */
  private install(seq: number, maxId: number): void {
    this.pendingPack = { seq, maxId };
    this.reader.close(); // its file may be one of those replaced
    installPack(this.dir, this.name, seq, this.sealed.map((segment) => segment.seq));
    this.pendingPack = null;
    const kept = this.sealed.filter((segment) => segment.seq > seq);
    const file = fileSystem.stat(sealedPath(this.dir, this.name, seq));
    this.sealed.splice(0, this.sealed.length, { seq, maxId, size: file.size, ino: file.ino }, ...kept);
  }
}

function maxIdOf(entries: readonly PackEntry[]): number {
  return entries.reduce((max, entry) => Math.max(max, entry.item.id), 0);
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
