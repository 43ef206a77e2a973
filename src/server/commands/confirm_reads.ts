/**
 * Confirming open reads in bulk: the oldest `count` items a connection holds open on a queue, or
 * all of them, settled for good (Kestrel 2's `closeReads` and `closeAllReads`,
 * KestrelHandler.scala:109-119). What `confirm <queue> <count>` is made of, and the text
 * protocol's fetches, each of which first confirms everything its connection holds on the queue.
 *
 * Invariants: all or nothing: a count larger than what is open (or below 1) confirms none, as
 * Kestrel's `ItemIdList.pop(count)` hands out none; while the queue's journal can't be written
 * nothing is confirmed (a confirm that can't be recorded could be undone by a crash) and the
 * items stay open. The caller's reply waits for the returned commit.
 */
import { DURABLE, type Commit } from "../../journal/commit.ts";
import { unavailable, type Failure } from "./failure.ts";
import type { Session } from "./session.ts";
import type { ServerContext } from "../context.ts";

export interface Confirmed {
  /** Items confirmed (0: none were, or fewer than asked for were open). */
  readonly count: number;
  /** Their journal records: the reply waits for it. */
  readonly commit: Commit;
}

const NONE: Confirmed = { count: 0, commit: DURABLE };

/**
 * Confirms the `count` oldest items `session` holds open on `queueName` ("all": every one), or
 * none if fewer are open. Creates no queue.
 */
export function confirmReads(session: Session, ctx: ServerContext, queueName: string, count: number | "all"): Confirmed | Failure {
  const queue = ctx.queues.get(queueName);
  if (queue === undefined) return NONE;
  session.openReads.forgetTimedOut(queue);
  const held = session.openReads.count(queue);
  const confirming = count === "all" ? held : count;
  if (confirming < 1 || confirming > held) return NONE;
  if (queue.journalFailure !== null) return unavailable(queue.journalFailure);
  for (let i = 0; i < confirming; i++) queue.confirm(session.openReads.takeOldest(queue)!);
  return { count: confirming, commit: queue.commit };
}
