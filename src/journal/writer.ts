/**
 * The append side of a queue's active journal segment: batching, the sync policy, write failures
 * and rotation (sealing the file under another name and starting a fresh one).
 *
 * Invariants: records reach the file in the order they were appended; a commit settles only after
 * every record it covers was written (and, under `always`, fsynced); at most one fsync is in
 * flight per file and it runs off the event loop while the next batch forms; a failed write is
 * cut back out of the file and its records are kept and retried, so the file never holds a torn
 * record written by this process and memory and disk agree again once the fault clears.
 */
import { closeSync, fsync, fsyncSync, ftruncateSync, openSync, renameSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { errorText } from "../errors.ts";
import { Commit, DURABLE } from "./commit.ts";
import { fsyncDirectory, writeFully } from "./files.ts";
import { markDirty } from "./flush_scheduler.ts";
import type { Item } from "./item.ts";
import { FILE_HEADER_SIZE, OP_ABORT, OP_OPEN, OP_REMOVE, encodeFileHeader, type IdOp } from "./record.ts";
import { RecordBatch } from "./record_batch.ts";
import type { SyncPolicy } from "./sync_policy.ts";

const RETRY_AFTER_FAILURE_MS = 1000;

export interface WriterEvents {
  /** A write or fsync failed (the journal refuses new items until a retry succeeds). */
  onFailure(message: string): void;
  onRecovered(): void;
  /** A batch reached the file (the journal checks whether to rotate). */
  onWritten?(): void;
}

export class JournalWriter {
  private fd: number;
  private diskSize: number;
  private readonly batch = new RecordBatch();
  /** Bytes of a failed write, kept in order for the retry. */
  private retained: Uint8Array[] = [];
  private retainedBytes = 0;
  /** Covers the records appended since the last write. */
  private commit: Commit | null = null;
  /** Covers the most recent record appended, written or not. */
  private latest: Commit = DURABLE;
  private unsynced: Commit[] = [];
  private syncInFlight = false;
  private fdsToCloseAfterSync: number[] = [];
  private intervalTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Why the last write failed, or null while the journal is healthy. */
  failure: string | null = null;
  /** The commit of the failed write, handed out for records appended while `failure` is set. */
  private failedCommit: Commit | null = null;
  private closed = false;

  constructor(
    readonly path: string,
    private policy: SyncPolicy,
    private readonly events: WriterEvents,
  ) {
    this.fd = openSync(path, "a", 0o644);
    this.diskSize = Bun.file(path).size;
    if (this.diskSize === 0) {
      writeFully(this.fd, [encodeFileHeader()]);
      this.diskSize = Bun.file(path).size;
    }
  }

  /** Bytes in the file plus bytes waiting to be written. */
  get size(): number {
    return this.diskSize + this.retainedBytes + this.batch.size;
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
      // The journal can't be written now: the record waits for the retry, and nobody should wait
      // for it (a get's item goes out from memory; sets are refused before they get here).
      this.latest = this.failedCommit!;
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
    if (this.closed || (this.batch.isEmpty && this.retainedBytes === 0)) return;
    const fresh = this.batch.take();
    const chunks = this.retainedBytes === 0 ? fresh.chunks : this.retained.concat(fresh.chunks);
    const bytes = this.retainedBytes + fresh.size;
    const commit = this.commit ?? new Commit();
    this.commit = null;
    try {
      writeFully(this.fd, chunks);
      this.diskSize += bytes;
    } catch (error) {
      this.writeFailed(chunks, bytes, commit, error);
      return;
    }
    this.retained = [];
    this.retainedBytes = 0;
    this.batch.recycle();
    if (this.failure !== null) {
      this.failure = null;
      this.failedCommit = null;
      this.events.onRecovered();
    }
    if (this.policy.kind === "always") {
      this.unsynced.push(commit);
      this.startSync();
    } else {
      commit.settle("durable");
      if (this.policy.kind === "interval") this.armIntervalSync(this.policy.ms);
    }
    this.events.onWritten?.();
  }

  private writeFailed(chunks: Uint8Array[], bytes: number, commit: Commit, error: unknown): void {
    const message = `journal write to ${this.path} failed: ${errorText(error)}`;
    try {
      ftruncateSync(this.fd, this.diskSize);
    } catch {
      // The file keeps a torn tail; replay cuts it off at the next start.
    }
    this.retained = chunks;
    this.retainedBytes = bytes;
    commit.settle("failed", message);
    if (this.failure === null) this.events.onFailure(message);
    this.failure = message;
    this.failedCommit = commit;
    this.retryTimer ??= setTimeout(() => {
      this.retryTimer = null;
      this.flush();
    }, RETRY_AFTER_FAILURE_MS);
  }

  private startSync(): void {
    if (this.syncInFlight || this.unsynced.length === 0 || this.closed) return;
    const group = this.unsynced;
    this.unsynced = [];
    this.syncInFlight = true;
    fsync(this.fd, (error) => {
      this.syncInFlight = false;
      for (const fd of this.fdsToCloseAfterSync.splice(0)) closeQuietly(fd);
      const message = error ? `fsync of ${this.path} failed: ${errorText(error)}` : "";
      if (error) this.events.onFailure(message);
      for (const commit of group) commit.settle(error ? "failed" : "durable", message);
      this.startSync();
    });
  }

  private armIntervalSync(ms: number): void {
    if (this.intervalTimer !== null) return;
    this.intervalTimer = setTimeout(() => {
      this.intervalTimer = null;
      if (this.closed || this.syncInFlight) return;
      this.syncInFlight = true;
      fsync(this.fd, (error) => {
        this.syncInFlight = false;
        for (const fd of this.fdsToCloseAfterSync.splice(0)) closeQuietly(fd);
        if (error) this.events.onFailure(`fsync of ${this.path} failed: ${errorText(error)}`);
        this.startSync();
      });
    }, ms);
  }

  /**
   * Seals the active file as `sealedPath` and starts a fresh one at `path`. Everything appended so
   * far is written first and, unless the policy is `never`, fsynced (its commits settle then), so
   * no record is left behind in a file the fsyncs no longer reach.
   */
  rotate(sealedPath: string): void {
    this.flush();
    if (this.failure !== null) throw new Error(this.failure);
    if (this.policy.kind !== "never") fsyncSync(this.fd);
    for (const commit of this.unsynced.splice(0)) commit.settle("durable");
    renameSync(this.path, sealedPath);
    const fd = openSync(this.path, "a", 0o644);
    writeFully(fd, [encodeFileHeader()]);
    if (this.policy.kind !== "never") fsyncSync(fd);
    fsyncDirectory(dirname(this.path));
    this.swapFd(fd);
    this.diskSize = FILE_HEADER_SIZE;
  }

  /** Writes what is pending, forces it to disk and closes the file. */
  close(): void {
    if (this.closed) return;
    this.flush();
    try {
      if (this.failure === null) fsyncSync(this.fd);
    } catch (error) {
      this.events.onFailure(`fsync of ${this.path} failed: ${errorText(error)}`);
    }
    for (const commit of this.unsynced.splice(0)) commit.settle("durable");
    this.closed = true;
    this.clearTimers();
    this.retire(this.fd);
  }

  /** Closes the file and deletes it (the queue is gone; the journal deletes sealed segments). */
  erase(): void {
    this.closed = true;
    this.clearTimers();
    this.commit?.settle("failed", "queue deleted");
    this.batch.take();
    this.retained = [];
    this.retainedBytes = 0;
    this.retire(this.fd);
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }

  private clearTimers(): void {
    if (this.intervalTimer !== null) clearTimeout(this.intervalTimer);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.intervalTimer = this.retryTimer = null;
  }

  private swapFd(fd: number): void {
    const old = this.fd;
    this.fd = fd;
    this.retire(old);
  }

  /** Closes an fd now, or after the fsync that is using it returns. */
  private retire(fd: number): void {
    if (this.syncInFlight) this.fdsToCloseAfterSync.push(fd);
    else closeQuietly(fd);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Nothing useful to do: the fd is gone either way.
  }
}
