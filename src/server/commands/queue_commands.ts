/**
 * Commands on whole queues: flush, flush_expired, delete and their all-queue forms. They only
 * take items away, so every server status lets them run (status.ts). And finding a queue by name
 * for the other commands.
 *
 * flush_expired and flush_all_expired look at every item in memory (a million in one queue, or
 * in ten thousand queues), so they go a part at a time over event-loop turns (SlicedRound) with
 * the session suspended, its later requests waiting, and answer once through: one such request
 * took 0.4 s in one turn, and each materialised every item kept. Their parts are paced with the
 * connections' requests (turn_scheduler.ts `sharedTurns`), so many clients sending them at once
 * share each turn's budget: paced on their own, each ran a slice every turn, and 50 clients
 * pipelining flush_all_expired over 1M items made a ping wait 520 ms. flush_all goes a slice of
 * queues a turn (each flush seals its journal's active segment). A flush's reply waits for its
 * journal's new state, written off the event loop (Journal.reset).
 */
import { errorText } from "../../errors.ts";
import { Commit, DURABLE, allOf } from "../../journal/commit.ts";
import { log } from "../../log.ts";
import { expiredFlush, type ExpiredFlush, type PersistentQueue } from "../../queue/persistent_queue.ts";
import { SlicedRound } from "../../queue/sliced_round.ts";
import { QueueUnavailableError } from "../../queue/queue_collection.ts";
import { isValidQueueName } from "../../queue_name.ts";
import type { ServerContext } from "../context.ts";
import { sharedTurns } from "../turn_scheduler.ts";
import { badRequest, unavailable, type Failure } from "./failure.ts";
import type { Session } from "./session.ts";

/** `name` as a queue name, or why it can't be one. */
export function checkQueueName(name: string): Failure | null {
  return isValidQueueName(name) ? null : badRequest(`bad queue name '${name}'`);
}

/** The queue `name`, created if it doesn't exist, or why it can't be (its files can't be made). */
export function queueNamed(ctx: ServerContext, name: string): PersistentQueue | Failure {
  try {
    return ctx.queues.getOrCreate(name);
  } catch (error) {
    if (error instanceof QueueUnavailableError) return unavailable(error.message);
    throw error;
  }
}

/**
 * Empties the queue `name` (no queue: nothing to do); returns the commit of its journal's new
 * state, written off the event loop (PersistentQueue.flush): the reply waits for it. Failed,
 * saying why, if the queue could not be flushed or its new journal could not be written.
 */
export function flushQueue(ctx: ServerContext, name: string): Commit {
  return ctx.queues.get(name)?.flush() ?? DURABLE;
}

/**
 * Removes the items of `queues` expired by `now`, a part per event-loop turn (see above), with
 * `session` suspended meanwhile; then `done` gets how many went. A queue deleted meanwhile is
 * skipped; one that fails is logged and the rest go on. `sliceMs`: SlicedRound's default unless
 * given (0: a part a turn).
 */
export function flushExpiredInTurns(queues: readonly PersistentQueue[], now: number, session: Session, done: (removed: number) => void, sliceMs?: number): void {
  let removed = 0;
  let flush: ExpiredFlush | null = null;
  const finish = (): void => {
    removed += flush?.removed ?? 0;
    flush = null;
  };
  const round = new SlicedRound<PersistentQueue>(
    (queue) => {
      flush ??= expiredFlush(now);
      if (!queue.flushExpiredPart(flush)) return false;
      finish();
      return true;
    },
    (error, queue) => {
      finish();
      log.error(`queue '${queue.name}': flush_expired failed: ${errorText(error)}`);
    },
    sliceMs,
    sharedTurns,
  );
  session.suspend(() => round.stop());
  round.start(queues, () =>
    session.continueSafely("finishing a flush_expired", () => {
      session.resume();
      done(removed);
    }),
  );
}

/**
 * Drops queue `name` and its journal files; returns the commit that settles once nothing of it can
 * come back, a power loss included (the reply waits for it; its files' fsyncs are off the event
 * loop, QueueCollection.delete). The name is free for a new queue at once.
 */
export function deleteQueue(ctx: ServerContext, name: string): Commit {
  return ctx.queues.delete(name);
}

/**
 * Empties every queue there is now, one after another, a slice of them per event-loop turn
 * (SlicedRound) with `session` suspended: each flush starts its journal's new state (sealing its
 * active segment: a directory fsync), and 2,000 queues flushed in one turn kept the server from
 * everyone else for 3.5 s. Then `done` gets the commit that settles once every new journal state
 * is written (the reply waits for it): failed, naming each queue that could not be flushed (left
 * as it was) or whose new journal could not be written. A queue deleted meanwhile is skipped; an
 * item set to a queue before its turn comes is flushed with it. If the connection closes
 * meanwhile the flushing goes on to the end (it was asked for), without `done`.
 */
export function flushAllInTurns(ctx: ServerContext, session: Session, done: (flushed: Commit) => void): void {
  const errors: string[] = [];
  const commits: Commit[] = [];
  let cancelled = false;
  const round = new SlicedRound<PersistentQueue>(
    (queue) => {
      if (!queue.isDeleted) commits.push(queue.flush());
    },
    (error, queue) => errors.push(`could not flush queue '${queue.name}': ${errorText(error)}`),
  );
  session.suspend(() => (cancelled = true));
  round.start([...ctx.queues.all()], () => {
    if (cancelled) return;
    session.continueSafely("finishing a flush_all", () => {
      session.resume();
      done(everyCommit(commits, errors));
    });
  });
}

/** A commit that settles once all of `commits` have: failed, with every error (`errors` first), if any of them failed or `errors` has some. */
function everyCommit(commits: readonly Commit[], errors: readonly string[]): Commit {
  const every = new Commit();
  allOf(commits).onSettled(() => {
    const failures = [...errors, ...commits.filter((commit) => commit.state === "failed").map((commit) => commit.error)];
    every.settle(failures.length === 0 ? "durable" : "failed", failures.join("; "));
  });
  return every;
}

