/**
 * `set`: adds one item to a queue (and its fanout children), or to an alias's destinations. A
 * `readonly` or `quiescent` server refuses it (status.ts), as does a queue whose journal (or a
 * child's) can't be written, or is being rebuilt while the queue's memory is full
 * (PersistentQueue.setRefusal): nothing is added then. The caller replies once the returned commit is settled.
 *
 * A set whose fanout children are fed over turns (a parent with over 1,000 children,
 * queue/fanout_feed.ts) leaves its copies waiting in memory until they are fed: the caller holds
 * the connection until then (`holdWhileFed`), so a client can't pile up sets there faster than
 * they are fed, noreply ones included.
 */
import { Commit } from "../../journal/commit.ts";
import type { Refusal } from "../../queue/persistent_queue.ts";
import { feedMark, feedSince } from "../../queue/fanout_feed.ts";
import { QueueUnavailableError } from "../../queue/queue_collection.ts";
import { isValidQueueName } from "../../queue_name.ts";
import type { ServerContext } from "../context.ts";
import { badRequest, unavailable, type Failure } from "./failure.ts";
import type { Session } from "./session.ts";

/** Stored once the commit settles; a queue's refusal (full, too large): not stored; or a failure. */
export type SetOutcome = Commit | Exclude<Refusal, "unavailable"> | Failure;

/** Adds `data` to `queueName`; `expiry` in unix ms (0: never). Counts the set. */
export function setItem(ctx: ServerContext, queueName: string, data: Uint8Array, expiry: number, now: number, flags: number): SetOutcome {
  ctx.stats.cmdSet++;
  if (!isValidQueueName(queueName)) return badRequest(`bad queue name '${queueName}'`);
  const refusal = ctx.status.writeRefusal();
  if (refusal !== null) return unavailable(refusal);
  let result;
  try {
    result = ctx.queues.add(queueName, data, expiry, now, flags);
  } catch (error) {
    if (error instanceof QueueUnavailableError) return unavailable(error.message);
    throw error;
  }
  if (result === "unavailable") return unavailable(ctx.queues.writeFailure(queueName, data.length) ?? "journal unavailable");
  return result;
}

export { feedMark };

/**
 * The commit of the fanout feed a set started since `mark` (`feedMark()` before it), pending
 * until its children are fed and written, or null when it started none (nearly always).
 */
export function feedStartedSince(mark: number): Commit | null {
  const feed = feedSince(mark);
  return feed?.state === "pending" ? feed : null;
}

/** Suspends `session` until `feed` (from `feedStartedSince`) settles; it stays closed if it closed meanwhile. */
export function holdWhileFed(session: Session, feed: Commit): void {
  let closed = false;
  session.suspend(() => (closed = true));
  feed.onSettled(() => {
    if (!closed) session.resume();
  });
}

export function isStored(outcome: SetOutcome): outcome is Commit {
  return outcome instanceof Commit;
}
