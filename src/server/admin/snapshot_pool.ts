/**
 * The stats snapshots /stats.json and /metrics are made from, shared between requests.
 *
 * A snapshot of every queue is gathered over turns (takeSnapshotInTurns: 60-200 ms at 20,000
 * queues) and held until its reply is sent, about 330 B a queue (6.3 MiB at 20,000). Made one per
 * request, 50 clients asking at once made 50 of them, each 2 ms of work a turn: RSS 155 → 970 MiB
 * and pings stalled 200-765 ms. Here a request waits for the next snapshot begun after it arrived
 * (so its reply shows every change acknowledged before the request), and every request waiting
 * when a snapshot begins shares it; a snapshot begins in the turn after it is asked for, so
 * requests that arrive together share one. At most MAX_HELD snapshots exist at once, being taken
 * or held by replies still being sent (Bun.serve times out a client that reads nothing for 10
 * s); past that, requests wait until one is let go.
 *
 * A snapshot whose taking throws (a bug) is logged once and fails as a snapshot that hands an
 * error does: the requests that waited for it get it (a 500 each) and its place is freed, so the
 * next one is taken as usual (left as being taken, it would have held every later request for
 * good).
 *
 * Invariants: at most one snapshot is being taken; `held` counts the snapshot being taken and
 * those with a lease not yet released; a lease is released at most once; a request whose client
 * went away before its snapshot began gets none.
 */
import { runGuardedWith } from "../../guarded.ts";
import { turnTask } from "../../turn_task.ts";
import type { Snapshot } from "../snapshot.ts";

/** Snapshots that may exist at once (being taken, or held by replies being sent). */
export const MAX_HELD = 3;
/** What a bug in taking a snapshot is logged as. */
const TAKING = "taking a stats snapshot";

export interface SnapshotLease {
  readonly snapshot: Snapshot;
  /** The snapshot's number (counted by the pool from 1): leases on one snapshot have the same. */
  readonly id: number;
  /** The reply is done with it (sent, failed or cancelled); later calls do nothing. */
  release(): void;
}

/** Takes a snapshot over turns and hands it (or the error that stopped it) to `done`. */
export type TakeSnapshot = (done: (result: Snapshot | Error) => void) => void;

interface Waiter {
  readonly resolve: (lease: SnapshotLease | null) => void;
  readonly reject: (error: Error) => void;
  readonly signal: AbortSignal | undefined;
}

export class SnapshotPool {
  private waiting: Waiter[] = [];
  /** Starts the next snapshot in the next turn (if it can start then). */
  private readonly startSoon = turnTask("starting a stats snapshot", () => this.startNext());
  private taking = false;
  private held = 0;
  private taken = 0;

  constructor(
    private readonly take: TakeSnapshot,
    private readonly maxHeld = MAX_HELD,
  ) {}

  /**
   * A lease on a snapshot begun after this call; null if `signal` aborted (the client went away)
   * before it began. Rejects with the error that stopped the snapshot.
   */
  lease(signal?: AbortSignal): Promise<SnapshotLease | null> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject, signal });
      this.startSoon();
    });
  }

  private startNext(): void {
    if (this.taking || this.held >= this.maxHeld || this.waiting.length === 0) return;
    const served = this.waiting;
    this.waiting = [];
    const wanted = served.filter((waiter) => waiter.signal?.aborted !== true);
    for (const waiter of served) if (waiter.signal?.aborted === true) waiter.resolve(null);
    if (wanted.length === 0) return;
    this.taking = true;
    this.held++;
    let handed = false;
    const done = (result: Snapshot | Error): void => {
      // Once only, though a take that throws after handing its result is told of its bug too.
      if (handed) return;
      handed = true;
      this.taking = false;
      this.hand(result, wanted);
      this.startSoon();
    };
    runGuardedWith(TAKING, this.take, done, failTaking);
  }

  /** Gives each waiter a lease on `result` (or its error); the snapshot is let go with the last lease. */
  private hand(result: Snapshot | Error, waiters: readonly Waiter[]): void {
    if (result instanceof Error) {
      this.held--;
      for (const waiter of waiters) waiter.reject(result);
      return;
    }
    const id = ++this.taken;
    let leases = waiters.length;
    const letGo = () => {
      if (--leases > 0) return;
      this.held--;
      this.startSoon();
    };
    for (const waiter of waiters) waiter.resolve(leaseOf(result, id, letGo));
  }
}

/** A take that threw (a bug): the requests waiting for it get the bug as the snapshot's error. */
function failTaking(done: (result: Snapshot | Error) => void, reason: string): void {
  done(new Error(`internal error: ${reason}`));
}

function leaseOf(snapshot: Snapshot, id: number, letGo: () => void): SnapshotLease {
  let released = false;
  return {
    snapshot,
    id,
    release: () => {
      if (released) return;
      released = true;
      letGo();
    },
  };
}
