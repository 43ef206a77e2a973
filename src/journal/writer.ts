/**
 * The append side of a queue's active journal segment: batching, the sync policy, faults and
 * rotation (sealing the file under another name and starting a fresh one).
 *
 * Invariants:
 * - Records reach the file in the order they were appended; a commit settles durable only after
 *   every record it covers was written (and, under `always`, fsynced).
 * - At most one fsync is in flight per file; it runs off the event loop while the next batch forms.
 * - A fault never leaves the file and memory apart for good. A failed write is cut back out of
 *   the file (or cut before the next write, if even that fails) and its records are kept; under
 *   `always`, bytes written but not yet confirmed by fsync are kept too, and a failed fsync cuts
 *   the file back to the last confirmed size (the kernel may have dropped those pages). While
 *   failing, the writer refuses nothing itself (the queue refuses sets and gets); `retry` (the
 *   queue's upkeep calls it once a second) writes the kept records, then fsyncs where one is owed;
 *   success settles every commit that waited (`Commit.retry`).
 * - A file deleted or replaced under the writer (checked after every write) is `lost`: retrying
 *   can't bring its records back, so the journal rebuilds itself from the queue and calls
 *   `restart`.
 * - Rotation changes nothing unless it completes: the new file is made (header written and
 *   synced) before the old one is renamed, a sealed segment is never overwritten, and if the new
 *   file can't be put in place the old name is restored.
 */
import { dirname } from "node:path";
import { errorText } from "../errors.ts";
import { Commit, DURABLE } from "./commit.ts";
import { closeQuietly, fileSystem, fsyncDirectory, statIfExists, tempPathFor, writeFully } from "./files.ts";
import { markDirty } from "./flush_scheduler.ts";
import type { Item } from "./item.ts";
import { FILE_HEADER_SIZE, OP_ABORT, OP_OPEN, OP_REMOVE, encodeFileHeader, type IdOp } from "./record.ts";
import { RecordBatch } from "./record_batch.ts";
import type { SyncPolicy } from "./sync_policy.ts";

export interface WriterEvents {
  /** The journal can't be written (the queue refuses sets and gets until it recovers). */
  onFailure(message: string): void;
  onRecovered(): void;
  /** A batch reached the file (the journal checks whether to rotate). */
  onWritten?(): void;
}

/** Bytes written and not yet confirmed by an fsync (kept under `always`), and who waits on them. */
interface Unsynced {
  readonly commit: Commit;
  readonly chunks: Uint8Array[];
  readonly size: number;
}

/** A file made ready to become the active segment: its header is written (and synced). */
interface PreparedFile {
  readonly temp: string;
  readonly fd: number;
}

export class JournalWriter {
  private fd: number;
  /** Bytes at the start of the file that are intact and ours. */
  private diskSize: number;
  /** Under `always`: bytes confirmed by fsync. */
  private syncedSize: number;
  private readonly batch = new RecordBatch();
  /** Records of failed attempts, in order, kept for the retry. */
  private retained: Uint8Array[] = [];
  private retainedBytes = 0;
  /** Covers the records appended since the last write. */
  private commit: Commit | null = null;
  /** Covers the most recent record appended, written or not. */
  private latest: Commit = DURABLE;
  /** Under `always`: written, waiting for the next fsync. */
  private unsynced: Unsynced[] = [];
  /** Under `always`: covered by the fsync in flight. */
  private syncing: Unsynced[] = [];
  private syncInFlight = false;
  /** Bumped when an fsync in flight no longer decides anything (rotation synced it, or restart). */
  private syncGeneration = 0;
  private fdsToCloseAfterSync: number[] = [];
  private intervalTimer: ReturnType<typeof setTimeout> | null = null;
  /** Why the journal can't be written now, or null while it is healthy. */
  failure: string | null = null;
  /** The file was deleted or replaced while open: only `restart` recovers. */
  lost = false;
  /** Settles once everything kept since the failure is written (and synced where owed). */
  private retryCommit: Commit | null = null;
  /** The file may hold bytes of a failed write past `diskSize`: cut them before writing. */
  private cutNeeded = false;
  /** An fsync failed: recovery needs one to succeed. */
  private syncNeeded = false;
  /** The directory entry of the last rotation may not be on disk yet. */
  private directorySyncNeeded = false;
  /** A rotation sealed the old file but could not put the new one (this temp file) in place. */
  private pendingActive: string | null = null;
  private closed = false;

  constructor(
    readonly path: string,
    private policy: SyncPolicy,
    private readonly events: WriterEvents,
  ) {
    this.fd = fileSystem.open(path, "a");
    try {
      this.diskSize = fileSystem.fstat(this.fd).size;
      if (this.diskSize === 0) {
        writeFully(this.fd, [encodeFileHeader()]);
        this.diskSize = FILE_HEADER_SIZE;
      }
    } catch (error) {
      closeQuietly(this.fd);
      throw error;
    }
    this.syncedSize = this.diskSize;
  }

  /** Bytes in the file plus bytes waiting to be written. */
  get size(): number {
    return this.diskSize + this.retainedBytes + this.batch.size;
  }

  /** The inode of the file being appended to (to notice it being replaced). */
  fileInode(): number {
    return fileSystem.fstat(this.fd).ino;
  }

  /** The commit that settles once every record appended so far is durable (or failed). */
  get lastCommit(): Commit {
    return this.latest;
  }

  setPolicy(policy: SyncPolicy): void {
    this.policy = policy;
  }

  appendAdd(item: Item): Commit {
    this.batch.addItem(item);
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
    this.batch.addId(op, id);
    return this.appended();
  }

  private appended(): Commit {
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

  /** Writes everything appended so far (one write); called once per event-loop turn. */
  flush(): void {
    if (this.closed || this.failure !== null || this.batch.isEmpty) return;
    const { chunks, size } = this.batch.take(this.policy.kind === "always");
    const commit = this.commit ?? new Commit();
    this.commit = null;
    try {
      writeFully(this.fd, chunks);
    } catch (error) {
      return this.writeFailed(chunks, size, [commit], error);
    }
    this.diskSize += size;
    if (this.checkLost([commit])) return;
    this.batch.recycle();
    if (this.policy.kind === "always") {
      this.unsynced.push({ commit, chunks, size });
      this.startSync();
    } else {
      commit.settle("durable");
      this.syncedSize = this.diskSize;
      if (this.policy.kind === "interval") this.armIntervalSync(this.policy.ms);
    }
    this.events.onWritten?.();
  }

  private writeFailed(chunks: Uint8Array[], size: number, commits: Commit[], error: unknown): void {
    this.cutNeeded = !this.cutBackTo(this.diskSize);
    this.retained = chunks;
    this.retainedBytes = size;
    this.fail(`journal write to ${this.path} failed: ${errorText(error)}`, commits);
  }

  /** True (and the writer failed as lost) if the file is no longer at `path`. */
  private checkLost(commits: Commit[]): boolean {
    let lost: boolean;
    try {
      lost = fileSystem.fstat(this.fd).nlink === 0;
    } catch (error) {
      this.writeFailed([], 0, commits, error);
      return true;
    }
    if (!lost) return false;
    this.lost = true;
    this.fail(`journal file ${this.path} was deleted or replaced while in use; it is rebuilt from the queue`, commits);
    return true;
  }

  /** Enters (or stays in) the failed state; `commits` fail, their records wait for the retry. */
  private fail(message: string, commits: readonly Commit[]): void {
    if (this.failure === null) {
      this.retryCommit = new Commit();
      this.events.onFailure(message);
    }
    this.failure = message;
    const retry = this.retryCommit!;
    for (const commit of commits) commit.settle("failed", message, retry);
    this.commit?.settle("failed", message, retry);
    this.commit = null;
    this.latest = retry;
  }

  /** Cuts the file back to `size`; false if that failed too (the next attempt cuts first). */
  private cutBackTo(size: number): boolean {
    try {
      fileSystem.ftruncate(this.fd, size);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * After a failure: writes what was kept (and the batch) and syncs where owed; recovers on
   * success, else stays failed with the new reason. Does nothing for a lost file (see `restart`).
   */
  retry(): void {
    if (this.closed || this.failure === null || this.lost) return;
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
    if (this.pendingActive !== null) {
      fileSystem.rename(this.pendingActive, this.path);
      this.pendingActive = null;
      this.directorySyncNeeded = true;
    }
    if (this.directorySyncNeeded) {
      fsyncDirectory(dirname(this.path));
      this.directorySyncNeeded = false;
    }
    if (this.cutNeeded) {
      fileSystem.ftruncate(this.fd, this.diskSize);
      this.cutNeeded = false;
    }
    const fresh = this.batch.take();
    this.retained = this.retained.concat(fresh.chunks);
    this.retainedBytes += fresh.size;
    try {
      writeFully(this.fd, this.retained);
    } catch (error) {
      this.cutNeeded = !this.cutBackTo(this.diskSize);
      throw error;
    }
    this.diskSize += this.retainedBytes;
    this.retained = [];
    this.retainedBytes = 0;
    this.batch.recycle();
    if (this.syncNeeded || this.policy.kind === "always") {
      fileSystem.fsync(this.fd);
      this.syncNeeded = false;
    }
    this.syncedSize = this.diskSize;
  }

  private recovered(): void {
    this.failure = null;
    const retry = this.retryCommit;
    this.retryCommit = null;
    this.latest = retry ?? this.latest;
    retry?.settle("durable");
    this.events.onRecovered();
  }

  private startSync(): void {
    if (this.syncInFlight || this.unsynced.length === 0 || this.closed) return;
    this.syncing = this.unsynced;
    this.unsynced = [];
    this.syncInFlight = true;
    const generation = this.syncGeneration;
    fileSystem.fsyncAsync(this.fd, (error) => {
      this.syncInFlight = false;
      for (const fd of this.fdsToCloseAfterSync.splice(0)) closeQuietly(fd);
      if (generation !== this.syncGeneration || this.closed) return;
      const group = this.syncing;
      this.syncing = [];
      if (error) return this.syncFailed(error, group);
      for (const entry of group) {
        this.syncedSize += entry.size;
        entry.commit.settle("durable");
      }
      this.startSync();
    });
  }

  /**
   * An fsync failed. Under `always` the bytes since the last good fsync are cut and written again
   * by the retry (the kernel may have dropped them); under the other policies they were
   * acknowledged already and only the fsync is owed.
   */
  private syncFailed(error: unknown, group: Unsynced[]): void {
    const message = `fsync of ${this.path} failed: ${errorText(error)}`;
    this.syncNeeded = true;
    const owed = [...group, ...this.unsynced];
    this.unsynced = [];
    if (owed.length > 0) {
      this.retained = [...owed.flatMap((entry) => entry.chunks), ...this.retained];
      this.retainedBytes += owed.reduce((sum, entry) => sum + entry.size, 0);
      this.diskSize = this.syncedSize;
      this.cutNeeded = !this.cutBackTo(this.diskSize);
    }
    this.fail(message, owed.map((entry) => entry.commit));
  }

  private armIntervalSync(ms: number): void {
    if (this.intervalTimer !== null) return;
    this.intervalTimer = setTimeout(() => {
      this.intervalTimer = null;
      if (this.closed || this.syncInFlight || this.failure !== null) return;
      this.syncInFlight = true;
      const generation = this.syncGeneration;
      fileSystem.fsyncAsync(this.fd, (error) => {
        this.syncInFlight = false;
        for (const fd of this.fdsToCloseAfterSync.splice(0)) closeQuietly(fd);
        if (generation !== this.syncGeneration || this.closed) return;
        if (error) return this.syncFailed(error, []);
        this.startSync();
      });
    }, ms);
  }

  /**
   * Seals the active file as `sealedPath` and starts a fresh one at `path`. Everything appended so
   * far is written first and, unless the policy is `never`, fsynced (its commits settle then), so
   * no record is left behind in a file the fsyncs no longer reach. Throws, with nothing changed,
   * if the file can't be sealed; returns once the old file is at `sealedPath` (if even the new one
   * couldn't be put in place, the writer fails and the retry finishes the job).
   */
  rotate(sealedPath: string): void {
    this.flush();
    if (this.failure !== null) throw new Error(this.failure);
    if (this.policy.kind !== "never") this.syncNow();
    const fresh = this.prepareFile();
    try {
      if (statIfExists(sealedPath) !== null) throw new Error(`${sealedPath} already exists; a sealed segment is never overwritten`);
      fileSystem.rename(this.path, sealedPath);
    } catch (error) {
      discard(fresh);
      throw error;
    }
    try {
      fileSystem.rename(fresh.temp, this.path);
    } catch (error) {
      if (!this.restoreName(sealedPath)) {
        this.useFile(fresh.fd);
        this.pendingActive = fresh.temp;
        this.fail(`could not start a new journal segment ${this.path}: ${errorText(error)}`, []);
        return;
      }
      discard(fresh);
      throw error;
    }
    this.useFile(fresh.fd);
    try {
      fsyncDirectory(dirname(this.path));
    } catch (error) {
      this.directorySyncNeeded = true;
      this.fail(`fsync of ${dirname(this.path)} failed: ${errorText(error)}`, []);
    }
  }

  /**
   * Starts a new, empty active file at `path` whatever is there now (the journal was rebuilt from
   * the queue's live state into other files: everything kept here is in them) and recovers.
   */
  restart(): void {
    const fresh = this.prepareFile();
    try {
      fileSystem.rename(fresh.temp, this.path);
    } catch (error) {
      discard(fresh);
      throw error;
    }
    this.useFile(fresh.fd);
    this.batch.take();
    this.batch.recycle();
    this.retained = [];
    this.retainedBytes = 0;
    this.lost = this.cutNeeded = this.syncNeeded = false;
    if (this.pendingActive !== null) fileSystem.remove(this.pendingActive);
    this.pendingActive = null;
    this.commit?.settle("durable");
    this.commit = null;
    try {
      fsyncDirectory(dirname(this.path));
    } catch (error) {
      // In place, not yet on disk: the retry syncs the directory, then the writer recovers.
      this.directorySyncNeeded = true;
      return this.fail(`fsync of ${dirname(this.path)} failed: ${errorText(error)}`, []);
    }
    if (this.failure !== null) this.recovered();
  }

  /** fsyncs the file now; everything written is then confirmed. Throws (and fails) on error. */
  private syncNow(): void {
    try {
      fileSystem.fsync(this.fd);
    } catch (error) {
      this.syncFailed(error, this.syncing);
      this.syncing = [];
      this.syncGeneration++;
      throw error;
    }
    this.syncGeneration++;
    for (const entry of [...this.syncing, ...this.unsynced]) entry.commit.settle("durable");
    this.syncing = [];
    this.unsynced = [];
    this.syncedSize = this.diskSize;
  }

  /** A temp file holding a file header (synced unless the policy is `never`), open for appending. */
  private prepareFile(): PreparedFile {
    const temp = tempPathFor(this.path);
    const fd = fileSystem.open(temp, "ax");
    try {
      writeFully(fd, [encodeFileHeader()]);
      if (this.policy.kind !== "never") fileSystem.fsync(fd);
    } catch (error) {
      discard({ temp, fd });
      throw error;
    }
    return { temp, fd };
  }

  /** Puts the file back at `path` after it was renamed to `sealedPath`; false if that failed. */
  private restoreName(sealedPath: string): boolean {
    try {
      fileSystem.rename(sealedPath, this.path);
      return true;
    } catch {
      return false;
    }
  }

  /** Switches to a fresh file holding just a header. */
  private useFile(fd: number): void {
    const old = this.fd;
    this.fd = fd;
    this.retire(old);
    this.diskSize = this.syncedSize = FILE_HEADER_SIZE;
  }

  /** Writes what is pending (retrying a failure once more), forces it to disk and closes the file. */
  close(): void {
    if (this.closed) return;
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
    for (const entry of [...this.syncing, ...this.unsynced]) entry.commit.settle("failed", message);
    this.retryCommit?.settle("failed", message);
    this.closed = true;
    this.clearTimers();
    this.retire(this.fd);
  }

  /** Closes the file and deletes it (the queue is gone; the journal deletes sealed segments). */
  erase(): void {
    this.closed = true;
    this.clearTimers();
    // Nothing of this queue can come back once its files are gone: whoever waits may go on.
    for (const commit of [this.commit, this.retryCommit, ...this.syncing.map((e) => e.commit), ...this.unsynced.map((e) => e.commit)]) {
      commit?.settle("durable");
    }
    this.batch.take();
    this.retained = [];
    this.retainedBytes = 0;
    this.retire(this.fd);
    fileSystem.remove(this.path);
    if (this.pendingActive !== null) fileSystem.remove(this.pendingActive);
  }

  private clearTimers(): void {
    if (this.intervalTimer !== null) clearTimeout(this.intervalTimer);
    this.intervalTimer = null;
  }

  /** Closes an fd now, or after the fsync that is using it returns. */
  private retire(fd: number): void {
    if (this.syncInFlight) this.fdsToCloseAfterSync.push(fd);
    else closeQuietly(fd);
  }
}

/** Closes and deletes a prepared file that won't be used. */
function discard(file: PreparedFile): void {
  closeQuietly(file.fd);
  try {
    fileSystem.remove(file.temp);
  } catch {
    // Left behind; start-up deletes leftover temp files.
  }
}
