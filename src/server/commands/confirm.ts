/**
 * `confirm`: confirms several of the connection's open items on a queue at once, the oldest
 * first, as Kestrel 2's KestrelHandler.closeReads does: all `count` of them, or none when the
 * connection holds fewer than `count` open there (ItemIdList.pop(count)) or `count` is below 1.
 * Usually what follows a `monitor`; with "all", every one (closeAllReads: what the text protocol
 * does before each fetch). Every server status allows it, as it does a `close`.
 */
import type { Commit } from "../../journal/commit.ts";
import type { ServerContext } from "../context.ts";
import { unavailable, type Failure } from "./failure.ts";
import type { Session } from "./session.ts";

/**
 * Confirms `count` open items of `queueName` ("all": every one it holds). Returns the commit of
 * their records (the reply waits for it), null if it confirmed none, or a failure if the queue's
 * journal can't record it (nothing confirmed then).
 */
export function confirmReads(session: Session, ctx: ServerContext, queueName: string, count: number | "all"): Commit | null | Failure {
  const queue = ctx.queues.get(queueName);
  if (queue === undefined) return null;
  session.openReads.forgetTimedOut(queue);
  const held = session.openReads.count(queue);
  const confirming = count === "all" ? held : count;
  if (confirming < 1 || confirming > held) return null;
  if (queue.journalFailure !== null) return unavailable(queue.journalFailure);
  for (const item of session.openReads.takeOldest(queue, confirming)) queue.confirm(item);
  return queue.commit;
}
