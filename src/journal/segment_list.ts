/**
 * The segments of one queue's journal as the journal knows them: the sealed ones (number, highest
 * item id added, size and inode when sealed), the active one's number and highest id, and a pack
 * committed but not yet installed. Paths, which are dead, deleting them, installing a pack, and
 * checking the files are still what was written.
 *
 * Invariants: sealed segments are in ascending seq and replayed in that order, then the active
 * one; seqs only grow; `maxId` of a segment is the highest item id added in it, and ids grow from
 * segment to segment (a pack holds only ids below those of later segments); while a pack is
 * pending, it replaces every segment up to its seq, whatever the list still says, and reads of
 * its seq go to it; a pack replaced by a newer one is deleted only with the segments the newer
 * one replaces (once that one's commit is on disk); while a pack is being written or is pending,
 * no segment after its seq is deleted (it may hold the REMOVEs of the pack's items). The lists
 * are replaced, never changed in place, and empty ones are one shared array (most queues have no
 * sealed segment).
 */
import type { Position } from "./add_reader.ts";
import { moveAllAside, moveAsideOrRemove, movingAsideInto, removeInBackground } from "./deferred_removal.ts";
import { fileSystem, fsyncDirectory, statExisting, type FileInfo } from "./files.ts";
import { installPack, installPackInTurns } from "./pack.ts";
import { packPath, sealedPath, segmentPath } from "./segment_files.ts";

export interface SealedSegment {
  readonly seq: number;
  readonly maxId: number;
  readonly size: number;
  /** The file's inode, to notice it being replaced. */
  readonly ino: number;
}

export interface JournalState {
  readonly sealed: readonly SealedSegment[];
  readonly activeSeq: number;
  readonly activeMaxId: number;
  /** Intact records in the active segment. */
  readonly activeRecords: number;
  /** The active file as replay left it, or null if there is none yet. */
  readonly activeFile: FileInfo | null;
}

/** An empty list (shared, never written to). */
const NONE: readonly never[] = [];

/** `list`, or the shared empty one for an empty list. */
function shared<T>(list: readonly T[]): readonly T[] {
  return list.length === 0 ? NONE : list;
}

export class SegmentList {
  private sealed: readonly SealedSegment[];
  /** The active segment's number and the highest item id added in it. */
  activeSeq: number;
  private activeMaxId: number;
  /** A pack committed but not yet installed (an install step failed): finished before anything else. */
  private pending: { readonly seq: number; readonly maxId: number } | null = null;
  /** Older packs the pending one replaces (a rebuild during an install): deleted by its install. */
  private superseded: readonly number[] = NONE;

  constructor(
    private readonly dir: string,
    private readonly name: string,
    state: JournalState,
  ) {
    this.sealed = shared(state.sealed);
    this.activeSeq = state.activeSeq;
    this.activeMaxId = state.activeMaxId;
  }

  /** Bytes of the sealed segments. */
  get sealedBytes(): number {
    return this.sealed.reduce((sum, segment) => sum + segment.size, 0);
  }

  /** Segments, the active one included. */
  get count(): number {
    return this.sealed.length + 1;
  }

  get hasPendingPack(): boolean {
    return this.pending !== null;
  }

  /** Where segment `seq` is (a pending pack's own file until its install renames it). Throws for I/O errors. */
  pathOf(seq: number): string {
    if (this.pending?.seq === seq) {
      const pack = packPath(this.dir, this.name, seq);
      if (fileSystem.stat(pack) !== null) return pack;
    }
    return segmentPath(this.dir, this.name, seq, this.activeSeq);
  }

  /** The segment after `seq`, or null if `seq` is the active one. */
  after(seq: number): number | null {
    return seq === this.activeSeq ? null : (this.sealed.find((segment) => segment.seq > seq)?.seq ?? this.activeSeq);
  }

  /** An item with id `id` was added to the active segment. */
  noteId(id: number): void {
    if (id > this.activeMaxId) this.activeMaxId = id;
  }

  /** The active segment was sealed at `size` bytes (its file is `ino`); the next one is active. */
  sealActive(size: number, ino: number): void {
    this.sealed = [...this.sealed, { seq: this.activeSeq, maxId: this.activeMaxId, size, ino }];
    this.activeSeq++;
    this.activeMaxId = 0;
  }

  /**
   * The last of the oldest sealed segments no live item is in (every item added in them has an id
   * below `minLiveId`, none is at or after the read-behind position `readFrom`), or -1. None after
   * the seq of a pack being written (`packing`) or pending.
   */
  deadUpTo(minLiveId: number, readFrom: Position | null, packing: number | null): number {
    const last = Math.min(packing ?? Infinity, this.pending?.seq ?? Infinity);
    let upTo = -1;
    for (const segment of this.sealed) {
      if (segment.seq > last || segment.maxId >= minLiveId || (readFrom !== null && segment.seq >= readFrom.seq)) break;
      upTo = segment.seq;
    }
    return upTo;
  }

  /**
   * Deletes the sealed segments numbered up to `upTo` that are still there, oldest first, until
   * `until` (performance.now()) passes, at least one; true once none up to `upTo` is left. Each
   * is moved aside (renamed to a temp name, cheap) and unlinked off the event loop
   * (deferred_removal.ts): unlinking a 16 MiB segment written a moment before took 8-80 ms in
   * the turn (issue 9). One that can't be renamed is deleted in the turn, as before. Throws for
   * I/O errors (the files already moved aside are still deleted in the background).
   *
   * Crash safety: the segments are dead (every item added in them has left the queue, and the
   * records saying so are written as the sync policy wants them: Journal.releaseDead), so replay
   * must never see one of them without the later segments holding those records. A temp name is never replayed and
   * start-up deletes it, so for replay a rename is the delete, and the unlink after it changes
   * nothing replay reads. The renames go oldest first, so a crash mid-slice leaves a journal
   * that starts later, which replay takes as normal (segment_chain.ts: only a hole after the
   * start is damage), or, if the renames are lost, the consumed segments back with the records
   * that consumed their items, which replays to the same queue. This holds where a directory's
   * renames reach the disk in the order made, as on ext4 and xfs (their journal commits them in
   * order), the same assumption the unlinks here made before.
   *
   * The directory fsync stays in the turn (no blocks are freed before it now: the turn's fsyncs
   * took 1.1-3.0 ms, bench/drained_turns.ts):
   * it puts this slice's renames on disk before anything later takes away the records that
   * consumed their items (the next slice moving the following segments aside; a pack's install
   * fsyncs first itself), so a consumed segment never outlives them after a crash whatever order
   * the file system keeps.
   */
  deleteUpTo(upTo: number, until = Infinity): boolean {
    const aside: string[] = [];
    try {
      if (this.moveAsideUpTo(upTo, until, aside) > 0) fsyncDirectory(this.dir);
    } finally {
      removeInBackground(aside);
    }
    return this.sealed[0] === undefined || this.sealed[0].seq > upTo;
  }

  /** Moves the sealed segments up to `upTo` aside into `aside` (see `deleteUpTo`), the list forgetting each that went; returns how many did. */
  private moveAsideUpTo(upTo: number, until: number, aside: string[]): number {
    let gone = 0;
    try {
      for (const oldest of this.sealed) {
        if (oldest.seq > upTo || (gone > 0 && performance.now() >= until)) break;
        moveAsideOrRemove(sealedPath(this.dir, this.name, oldest.seq), aside);
        gone++;
      }
    } finally {
      if (gone > 0) this.sealed = shared(this.sealed.slice(gone));
    }
    return gone;
  }

  /**
   * A sealed segment missing, replaced or shorter than when it was sealed, or null. Not checked
   * while a pack's install is pending: some of them are gone on purpose.
   */
  check(): string | null {
    if (this.pending !== null) return null;
    for (const segment of this.sealed) {
      const path = sealedPath(this.dir, this.name, segment.seq);
      const file = fileSystem.stat(path);
      if (file === null) return `${path} was deleted`;
      if (!file.isFile || file.ino !== segment.ino) return `${path} was replaced`;
      if (file.size < segment.size) return `${path} was cut from ${segment.size} to ${file.size} bytes`;
    }
    return null;
  }

  /**
   * Replaces the sealed segments up to `seq` with the committed pack `seq`, whose highest item id
   * is `maxId`. If a step fails, the pack stays pending (and throws): `finishPending` goes on.
   */
  install(seq: number, maxId: number): void {
    this.pending = { seq, maxId };
    // The files it replaces are moved aside and deleted off the event loop (at once, 8 segments of 16 MiB took 37-150 ms).
    const aside: string[] = [];
    try {
      installPack(this.dir, this.name, seq, this.sealed.map((segment) => segment.seq), this.superseded, movingAsideInto(aside));
    } finally {
      removeInBackground(aside);
    }
    this.installed(seq, maxId);
  }

  /**
   * `install`, its directory fsyncs off the event loop (installPackInTurns), the pack pending
   * meanwhile: `finishPending` (an upkeep, a new pack, a clean stop) may finish it at once, and a
   * rebuild or the files moved aside supersede it; the steps then stop. `done` is called once:
   * with null once installed (by either) or superseded, or with the error a step met (the pack
   * stays pending, for `finishPending`). Never throws.
   */
  installInTurns(seq: number, maxId: number, done: (error: unknown) => void): void {
    const pending = { seq, maxId };
    this.pending = pending;
    const aside: string[] = [];
    const install = { dir: this.dir, name: this.name, seq, sealed: this.sealed.map((segment) => segment.seq), superseded: this.superseded, dispose: movingAsideInto(aside) };
    installPackInTurns(install, () => this.pending === pending, (error) => {
      removeInBackground(aside);
      if (error !== null || this.pending !== pending) return done(error);
      try {
        this.installed(seq, maxId);
      } catch (statError) {
        return done(statError);
      }
      done(null);
    });
  }

  /** Pack `seq` is in place as the sealed segment replacing every one up to it. Throws if it can't be looked at. */
  private installed(seq: number, maxId: number): void {
    this.pending = null;
    this.superseded = NONE;
    const kept = this.sealed.filter((segment) => segment.seq > seq);
    const file = statExisting(sealedPath(this.dir, this.name, seq));
    this.sealed = [{ seq, maxId, size: file.size, ino: file.ino }, ...kept];
  }

  /** Finishes the install of a pack cut short by a fault (nothing to do if there is none). Throws if it fails again. */
  finishPending(): void {
    if (this.pending !== null) this.install(this.pending.seq, this.pending.maxId);
  }

  /**
   * A rebuild committed pack `seq` (the old active segment was moved aside under that number): it
   * replaces every segment so far, an older pending pack included (deleted by its install), and
   * `seq + 1` is active. Its highest id stays the one noted so far: a rebuild over turns holds the
   * records appended after it took the queue's state, and they go to `seq + 1` (their ids are above
   * every earlier one, and too high a `maxId` only keeps a segment a little longer).
   */
  rebuilt(seq: number, maxId: number): void {
    if (this.pending !== null && this.pending.seq !== seq) this.superseded = [...this.superseded, this.pending.seq];
    const replaced = [...this.sealed.map((segment) => segment.seq), seq];
    this.sealed = replaced.map((old) => ({ seq: old, maxId: old === seq ? maxId : 0, size: 0, ino: 0 }));
    this.pending = { seq, maxId };
    this.activeSeq = seq + 1;
  }

  /** Every file this list names that a rebuild replaces (the sealed segments and the one it moves aside). */
  rebuildPaths(): string[] {
    return [...this.sealed.map((segment) => segment.seq), this.activeSeq].map((seq) => sealedPath(this.dir, this.name, seq));
  }

  /**
   * Renames the sealed segments (oldest first) and any pending or superseded pack to temp names
   * (cheap: nothing is freed yet), so the names are free at once and the files can be deleted off
   * the event loop (deferred_removal.ts); start-up deletes any left. A file that can't be renamed
   * is deleted. Returns the temp paths and the errors.
   */
  moveFilesAside(): { readonly paths: string[]; readonly errors: unknown[] } {
    const paths: string[] = [];
    const { errors } = moveAllAside(this.filePaths(), paths);
    this.forgetFiles();
    return { paths, errors };
  }

  /** The sealed segments (oldest first), then the packs superseded or pending. */
  private filePaths(): string[] {
    const paths = this.sealed.map((segment) => sealedPath(this.dir, this.name, segment.seq));
    for (const seq of [...this.superseded, ...(this.pending === null ? [] : [this.pending.seq])]) paths.push(packPath(this.dir, this.name, seq));
    return paths;
  }

  /** The highest item id added in any segment there is (0 if none). */
  get maxId(): number {
    return Math.max(this.activeMaxId, this.pending?.maxId ?? 0, ...this.sealed.map((segment) => segment.maxId));
  }

  /**
   * Hands the files of the sealed segments and packs over (oldest first, see `filePaths`), for a
   * retire to take away over turns (retire_task.ts): the list names none of them any more.
   */
  handOverFiles(): string[] {
    const paths = this.filePaths();
    this.forgetFiles();
    return paths;
  }

  /** The list names no file any more (they were erased or moved aside). */
  private forgetFiles(): void {
    this.pending = null;
    this.superseded = NONE;
    this.sealed = NONE;
  }
}

