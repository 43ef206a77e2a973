/**
 * The fsyncs of a journal's active file, off the event loop: the batches written and waiting for
 * one (under `always`: their commits, and copies of their bytes in case it fails), at most one
 * fsync in flight (group commit: every batch written meanwhile waits for the next), and the
 * periodic fsync of an `interval` policy.
 *
 * Invariants: a batch's commit settles durable only after an fsync that began after the batch
 * was written returned without error; a failed fsync hands every batch not yet confirmed to
 * the writer's `syncFailed` (it decides what to write again); once `confirmAll`, `takeOwed` or `stop`
 * ran, the fsync then in flight decides nothing, but its return still starts the next one (batches
 * written meanwhile wait for it); an interval fsync that comes due while one is in flight runs
 * after it (that one may have begun before the last writes). The lists are replaced, never
 * changed in place, and empty ones are one shared array: an idle pipeline holds none of its own.
 */
import type { ActiveFile, Extent } from "./active_file.ts";
import type { Commit } from "./commit.ts";

/** A batch written and not yet confirmed by an fsync, and who waits on it. */
export interface Unsynced {
  readonly commit: Commit;
  readonly chunks: readonly Uint8Array[];
  readonly extent: Extent;
}

/** No batch (shared, never written to). */
const NONE: readonly Unsynced[] = [];

export class FsyncPipeline {
  private waiting: readonly Unsynced[] = NONE;
  private inFlight: readonly Unsynced[] = NONE;
  private busy = false;
  private generation = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly file: Pick<ActiveFile, "syncAsync">,
    private readonly writer: { syncFailed(error: Error, owed: Unsynced[]): void },
  ) {}

  /** No fsync in flight, owed or planned. */
  get idle(): boolean {
    return !this.busy && this.waiting.length === 0 && this.timer === null;
  }

  /** A batch was written; it settles after the next fsync. */
  add(entry: Unsynced): void {
    this.waiting = [...this.waiting, entry];
    this.start();
  }

  /** fsyncs within `ms` (an `interval` policy), unless one is planned already. */
  syncWithin(ms: number): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.busy) this.syncWithin(ms);
      else this.run(NONE);
    }, ms);
  }

  /** The caller fsynced the file itself: everything written is confirmed. */
  confirmAll(): void {
    for (const entry of this.takeOwed()) entry.commit.settle("durable");
  }

  /** Every batch not yet confirmed, handed over; the fsync in flight decides nothing now. */
  takeOwed(): Unsynced[] {
    this.generation++;
    const owed = [...this.inFlight, ...this.waiting];
    this.inFlight = NONE;
    this.waiting = NONE;
    return owed;
  }

  /** No more fsyncs (the file is closing); returns what was still owed. */
  stop(): Unsynced[] {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    return this.takeOwed();
  }

  private start(): void {
    if (this.busy || this.waiting.length === 0) return;
    const group = this.waiting;
    this.waiting = NONE;
    this.run(group);
  }

  private run(group: readonly Unsynced[]): void {
    this.busy = true;
    this.inFlight = group;
    const generation = this.generation;
    this.file.syncAsync((error) => {
      this.busy = false;
      if (generation !== this.generation) return this.start();
      this.inFlight = NONE;
      if (error) return this.writer.syncFailed(error, [...group, ...this.takeOwed()]);
      for (const entry of group) entry.commit.settle("durable");
      this.start();
    });
  }
}
