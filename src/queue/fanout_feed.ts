/**
 * Feeds the children of a wide fanout a set's item a slice per turn.
 *
 * Any client can give a queue thousands of fanout children (a get names up to 100 new ones, and
 * queues go up to max_queues), and a set to it added the item to every child in one call: 5,000
 * children took 8-24 ms, 20,000 about 100 ms, serving no one meanwhile. A set to a queue with more
 * than WIDE_FANOUT children (or that takes one past WIDE_FANOUT copies, through an alias to many
 * parents) is added to the queue at once (set_routing.ts) and its children are fed here,
 * SLICE_CHILDREN a turn; the set's commit settles once every copy was added and its
 * record written, so its STORED still means every queue it reached has the item.
 *
 * Invariants: sets are fed in the order they were made, a set's children all before the next
 * set's, and while a parent has a set being fed (`feeding`) its next sets are fed too, however few
 * children it has then, so each child gets a parent's items in order; a set reaches the children its queue had
 * when it was made (a snapshot, shared by the sets made while no queue came or went); a child
 * deleted meanwhile is skipped; a child whose journal started failing meanwhile takes the item
 * all the same (`PersistentQueue.add` `whileFailing`): its record waits for the journal's retry,
 * and so does the reply, as for the records of the write that failed. A child whose journal is
 * being rebuilt over turns while items wait on disk has no place for the item until the
 * rebuild's copy of them is in place (behind them): the feed stops at that child (the sets behind
 * wait too, so each child still gets them in order) and looks again every HELD_UP_LOOK_MS until it
 * can take the item (the set's checks let it through before the rebuild began; going without
 * it, the child lost an item its STORED promised). `feedAll` feeds what is left at once (a clean
 * stop, before the journals close), putting such a rebuild in place first.
 *
 * The copies of a set wait here, in memory, until fed, and a set to a parent with 1,001 children
 * is fed in about a turn while a client can send a hundred thousand a second: the command layer
 * holds the connection that made a set until its feed is through (`feedSince`, set_item.ts), so
 * each connection has at most one set waiting here. (Before, one client pipelining 10-byte noreply
 * sets queued a million of them in 22 s: 680 MiB, growing, and a clean stop would have fed them all.)
 *
 * A child whose add throws (a bug) is logged once (`internal error feeding a fanout child a set's
 * item`) and goes without that item, as a child that refuses it does: the set's commit doesn't
 * wait for it, and the other children, the next sets and the next turn's slice go on.
 */
import { runGuardedWith } from "../guarded.ts";
import { allOf, Commit } from "../journal/commit.ts";
import { log } from "../log.ts";
import { turnTask } from "../turn_task.ts";
import { Deque } from "./deque.ts";
import type { PersistentQueue } from "./persistent_queue.ts";

/** Children above which a set's copies are made over turns (up to this many take 1-5 ms at once). */
export const WIDE_FANOUT = 1000;
/** Children fed per turn (1-2 ms; a few hundred a turn made 10,000 pipelined sets to 500 children 3.4 times slower). */
const SLICE_CHILDREN = 1000;
/** How often a feed held up by a child's journal rebuild looks whether it can go on (the rebuild's fsyncs may take long). */
const HELD_UP_LOOK_MS = 10;
/** What a child's bug is logged as. */
const FEEDING = "feeding a fanout child a set's item";

interface FeedJob {
  readonly parent: PersistentQueue;
  readonly children: readonly PersistentQueue[];
  next: number;
  readonly data: Uint8Array;
  readonly expiry: number;
  readonly now: number;
  readonly flags: number;
  readonly commits: Commit[];
  /** Settles as `allOf(commits)` once every child was fed. */
  readonly done: Commit;
}

const jobs = new Deque<FeedJob>();
/** Jobs waiting per parent. */
const waitingFor = new Map<PersistentQueue, number>();
/** The next slice, in a later turn. */
const schedule = turnTask("feeding wide fanouts' children", feedSlice);
/** The next look of a feed held up by a child's rebuild, or null. */
let heldUpLook: ReturnType<typeof setTimeout> | null = null;
/** The last snapshot of a parent's children, and the queue churn it was taken at; dropped once no set waits (it holds the queues). */
let snapshot: { readonly set: ReadonlySet<PersistentQueue>; readonly churn: number; readonly children: readonly PersistentQueue[] } | null = null;

/** Sets fed over turns so far (a count that only grows), and the commit of the latest. */
let made = 0;
let latest: Commit | null = null;

/** A mark to give `feedSince` after a set. */
export function feedMark(): number {
  return made;
}

/**
 * The commit of the last set fed over turns, if one was made since `mark` (it settles once that
 * set and every set before it were fed and their records written), else null.
 */
export function feedSince(mark: number): Commit | null {
  return made === mark ? null : latest;
}

/** `parent` has a set whose children are still being fed: its next sets must wait their turn here. */
export function feeding(parent: PersistentQueue): boolean {
  return waitingFor.has(parent);
}

/**
 * Feeds `data` to `parent`'s `children` over turns; `first` is the parent's own commit (none if
 * it refused the item). Returns the commit that settles once every copy's record is written.
 * `churn` counts queues made and deleted so far (a snapshot of `children` is reused while it
 * stays the same).
 */
export function feedChildren(parent: PersistentQueue, children: ReadonlySet<PersistentQueue>, churn: number, first: Commit | null, data: Uint8Array, expiry: number, now: number, flags: number): Commit {
  if (snapshot === null || snapshot.set !== children || snapshot.churn !== churn) snapshot = { set: children, churn, children: [...children] };
  const job: FeedJob = { parent, children: snapshot.children, next: 0, data, expiry, now, flags, commits: first === null ? [] : [first], done: new Commit() };
  jobs.push(job);
  made++;
  latest = job.done;
  waitingFor.set(parent, (waitingFor.get(parent) ?? 0) + 1);
  schedule();
  return job.done;
}

/** Feeds every child still waiting, now. */
export function feedAll(): void {
  feedUpTo(Infinity, true);
}

function feedSlice(): void {
  if (!feedUpTo(SLICE_CHILDREN, false)) {
    if (jobs.length > 0) schedule();
  } else {
    heldUpLook ??= setTimeout(() => {
      heldUpLook = null;
      schedule();
    }, HELD_UP_LOOK_MS);
  }
}

/** Nothing is waiting: the snapshot goes too, so deleted children aren't kept alive by it. */
function forgetIfIdle(): void {
  if (jobs.length > 0) return;
  snapshot = null;
  latest = null;
}

/**
 * Feeds up to `count` children, from the oldest job on; a job fed whole settles its commit with its
 * copies'. A child held up by its rebuild stops the feed there (returns true) until a later look,
 * or, `atStop`, has its rebuild put in place now.
 */
function feedUpTo(count: number, atStop: boolean): boolean {
  let left = count;
  for (let job = jobs.peek(); job !== undefined && left > 0; job = jobs.peek()) {
    const end = Math.min(job.children.length, job.next + left);
    left -= end - job.next;
    for (; job.next < end; job.next++) {
      if (heldUp(job) && !atStop) return true;
      runGuardedWith(FEEDING, feedNext, job);
    }
    if (job.next < job.children.length) return false;
    jobs.shift();
    const waiting = waitingFor.get(job.parent)! - 1;
    if (waiting === 0) waitingFor.delete(job.parent);
    else waitingFor.set(job.parent, waiting);
    forgetIfIdle();
    const copies = allOf(job.commits);
    const { done } = job;
    copies.onSettled(() => (copies.state === "durable" ? done.settle("durable") : done.settle("failed", copies.error, copies.retry)));
  }
  return false;
}

/**
 * Whether `job`'s next child can take its item only once its journal rebuild's copy of the items
 * waiting on disk is in place (PersistentQueue.heldUpByRebuild). At a stop (`atStop` in
 * `feedUpTo`) the caller goes on anyway: `feedNext` puts that rebuild in place first.
 */
function heldUp(job: FeedJob): boolean {
  const child = job.children[job.next]!;
  return !child.isDeleted && child.heldUpByRebuild(job.data.length);
}

/** Adds `job`'s item to its next child (`job.next`), putting a rebuild that holds the child up in place first (a clean stop's `feedAll`). */
function feedNext(job: FeedJob): void {
  const child = job.children[job.next]!;
  if (child.isDeleted) return;
  if (child.heldUpByRebuild(job.data.length)) child.finishRebuild();
  const result = child.add(job.data, job.expiry, job.now, job.flags, true);
  if (typeof result === "string") log.debug(`fanout '${child.name}' refused an item: ${result}`);
  else job.commits.push(result);
}
