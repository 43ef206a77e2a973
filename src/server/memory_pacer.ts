/**
 * Keeps the process's resident memory close to its live data, while traffic flows and after it
 * stops, without long pauses.
 *
 * Bun's collector runs on its own schedule; under a burst of sets, the garbage it has not yet
 * reclaimed (socket chunks, parsed requests, reply buffers) can double the resident set first,
 * even though read-behind keeps the live data small; and once traffic stops, nothing asks it to
 * give back what a burst (or deleted queues) left behind. The pacer looks at the resident set
 * every CHECK_BYTES of traffic (a request counting as REQUEST_WEIGHT at least) and once a second
 * (`idle`), and collects once it has grown past the floor by GROWTH of the floor (at least
 * MIN_GROWTH); and in the first quiet second (less than QUIET_BYTES of traffic: a health check's
 * pings are quiet) after a busier time, it collects once whatever the floor says, since what the
 * live data shrank to (a drained queue, deleted queues) is known only after a collection. Queues
 * made or deleted count toward that busier time (QUEUE_CHURN_WEIGHT each, from `queueChurn`): 500
 * fanout children made by 5 gets are a few KB of requests but leave megabytes of garbage. That
 * one is a full collection: few requests are there to wait for it, and a background one may free
 * nothing.
 *
 * While traffic flows, a collection is a background one (`Bun.gc(false)`: marking runs
 * concurrently while requests are served): a full one's pause grows with the garbage a busy
 * server makes (80 ms was seen during a reliable drain of 1M items), so it is kept for the quiet
 * second. What the collection left is read SETTLE_BYTES of traffic (or a second) later: that is
 * the new floor.
 *
 * A full collection stops the server for as long as marking the live objects takes: 8 ms at 5,000
 * queues, 37 ms at 20,000, 197 ms at 100,000 (and 114 ms over a million queued items when each
 * kept the socket read it came in, before they went into slabs). So each quiet one is timed, and the next is made only if it is
 * expected to take at most MAX_QUIET_PAUSE_MS: the last one's pause scaled by how the floor (the
 * live data, roughly: garbage costs marking nothing) moved since that one settled. A server whose
 * live data is that big gives memory back through JSC's own (concurrent) collections instead.
 * The first is made at start (`calibrate`), before anyone is served.
 *
 * An idle look that throws (a bug) is logged once (`internal error looking at the memory in use`)
 * and the next comes a second later as usual: the interval stays, and nothing reaches main.ts's
 * last resort. A collection it was making is not counted (the next look makes one if memory
 * still calls for it).
 *
 * Invariant: `floor` is the lowest resident set seen since the last collection settled, or what
 * that collection left, whichever is lower.
 */

import { fullGC } from "bun:jsc";
import { runGuarded } from "../guarded.ts";
import { residentBytes } from "./resident_memory.ts";

/** Traffic between two looks at the resident set. */
const CHECK_BYTES = 1024 * 1024;
/** What a request counts for toward the next look, besides its bytes (see `request`). */
const REQUEST_WEIGHT = 1024;
/** Traffic after a collection before reading what it left. */
const SETTLE_BYTES = 8 * 1024 * 1024;
/** Growth over the floor that triggers a collection, as a share of the floor... */
const GROWTH = 0.1;
/** ...but never less than this. */
const MIN_GROWTH = 8 * 1024 * 1024;
/** Traffic in a second, and since the last quiet collection, below which the server is quiet. */
const QUIET_BYTES = 64 * 1024;
/** What a queue made or deleted counts for toward the quiet collection, as traffic would. */
const QUEUE_CHURN_WEIGHT = 4 * 1024;
/** The longest a quiet full collection is expected to stop the server for, ms. */
const MAX_QUIET_PAUSE_MS = 20;
/** What an idle look's bug is logged as. */
const LOOKING = "looking at the memory in use";

export interface PacerHooks {
  readonly residentBytes: () => number;
  /** A full, synchronous collection. */
  readonly collectFull: () => void;
  /** A collection that runs concurrently with the program. */
  readonly collectInBackground: () => void;
  /** How often memory is looked at without traffic, ms; 0 = only with traffic. */
  readonly idleCheckMs: number;
  /** A monotonic clock, ms (to time the full collections). */
  readonly now: () => number;
  /** Queues made and deleted so far (a count that only grows). */
  readonly queueChurn: () => number;
}

const BUN_HOOKS: PacerHooks = {
  residentBytes,
  // JSC's full collection, its sweep left to run lazily: a pause 30-50% shorter than
  // Bun.gc(true)'s (12 against 20 ms at 5,000 queues; 25 against 40 ms at 45 MiB live), the same
  // memory given back half a second later.
  collectFull: () => void fullGC(),
  collectInBackground: () => Bun.gc(false),
  idleCheckMs: 1000,
  now: () => performance.now(),
  queueChurn: () => 0,
};

export class MemoryPacer {
  private readonly hooks: PacerHooks;
  private floor: number;
  private untilCheck = CHECK_BYTES;
  /** A collection was made or asked for and its effect not read yet. */
  private settling = false;
  /** Traffic since the last `idle` look. */
  private recentTraffic = 0;
  /** Traffic since the last collection in a quiet second. */
  private trafficSinceQuiet = 0;
  /** `queueChurn()` at the last `idle` look. */
  private churnSeen = 0;
  private readonly idleTimer: ReturnType<typeof setInterval> | null;
  /** The last quiet full collection: how long it stopped the server, and the floor it left (once settled). */
  private lastFull: { readonly pauseMs: number; floor: number | null } | null = null;
  /** Collections the pacer made or asked for (stats: `memory_collections`). */
  collections = 0;
  /** Quiet full collections not made because they would have been too long (stats). */
  quietCollectionsSkipped = 0;

  constructor(hooks: Partial<PacerHooks> = {}) {
    this.hooks = { ...BUN_HOOKS, ...hooks };
    this.floor = this.residentOrNull() ?? 0;
    this.idleTimer = this.hooks.idleCheckMs > 0 ? setInterval(() => runGuarded(LOOKING, this.idleLook), this.hooks.idleCheckMs) : null;
    this.idleTimer?.unref();
  }

  /** The once-a-second look, as the interval runs it. */
  private readonly idleLook = (): void => this.idle();

  /** Counts `bytes` of client traffic; every CHECK_BYTES, collects if memory outgrew the floor. */
  traffic(bytes: number): void {
    this.recentTraffic += bytes;
    this.trafficSinceQuiet += bytes;
    this.countTowardCheck(bytes);
  }

  /**
   * Counts a request: some make garbage out of proportion to their bytes (a `delete` of a queue,
   * a `get` that makes one), so each counts as REQUEST_WEIGHT toward the next look, though not as
   * traffic for telling a quiet second.
   */
  request(): void {
    this.countTowardCheck(REQUEST_WEIGHT);
  }

  /** Every CHECK_BYTES counted, a look (a collection if memory outgrew the floor). */
  private countTowardCheck(amount: number): void {
    this.untilCheck -= amount;
    if (this.untilCheck > 0) return;
    this.untilCheck = CHECK_BYTES;
    this.check();
  }

  /** The once-a-second look, traffic or not: what a burst left behind is given back once it stops. */
  idle(): void {
    const churn = this.hooks.queueChurn();
    this.trafficSinceQuiet += (churn - this.churnSeen) * QUEUE_CHURN_WEIGHT;
    this.churnSeen = churn;
    const quiet = this.recentTraffic < QUIET_BYTES;
    this.recentTraffic = 0;
    if (quiet && this.trafficSinceQuiet >= QUIET_BYTES && !this.settling) {
      this.trafficSinceQuiet = 0;
      if (this.expectedFullPauseMs() <= MAX_QUIET_PAUSE_MS) return this.collectFullTimed();
      this.quietCollectionsSkipped++;
    }
    this.check();
  }

  /** The last quiet full collection's pause, scaled by the floor's growth since; 0 before the first. */
  private expectedFullPauseMs(): number {
    const last = this.lastFull;
    if (last === null) return 0;
    return last.floor === null ? last.pauseMs : (last.pauseMs * this.floor) / Math.max(last.floor, 1);
  }

  private collectFullTimed(): void {
    const started = this.hooks.now();
    this.hooks.collectFull();
    this.lastFull = { pauseMs: this.hooks.now() - started, floor: null };
    this.counted();
  }

  /**
   * One timed full collection, made at start once the queues are loaded (before anyone is served,
   * and what replay left is freed): the first quiet one is then judged like the others, not made
   * blind (200 ms at 100,000 queues).
   */
  calibrate(): void {
    this.collectFullTimed();
  }

  stop(): void {
    if (this.idleTimer !== null) clearInterval(this.idleTimer);
  }

  private check(): void {
    const resident = this.residentOrNull();
    if (resident === null) return;
    if (this.settling) {
      this.settling = false;
      this.floor = resident;
      if (this.lastFull !== null) this.lastFull.floor ??= resident;
      return;
    }
    if (resident <= this.floor + Math.max(MIN_GROWTH, this.floor * GROWTH)) {
      this.floor = Math.min(this.floor, resident);
      return;
    }
    this.collectNow();
  }

  /**
   * The resident set, or null if it can't be read now: reading it opens /proc/self/statm, which
   * fails while the process is out of file descriptors; the pacer then waits for the next look.
   */
  private residentOrNull(): number | null {
    try {
      return this.hooks.residentBytes();
    } catch {
      return null;
    }
  }

  /** Collects in the background, and reads what that left at the next look. */
  private collectNow(): void {
    this.hooks.collectInBackground();
    this.counted();
  }

  /** A collection was made or asked for: what it left is read at the next look. */
  private counted(): void {
    this.collections++;
    this.settling = true;
    this.untilCheck = SETTLE_BYTES;
  }

}
