/**
 * Adding the items of one request to a queue (a text `put` holds up to 1024), a slice per
 * event-loop turn. Each item is one `set` (set_item.ts); to a fanout parent with 500 children
 * that is 501 journal records, about 0.4 ms, so a put of 1024 items was one turn of 400 ms,
 * where the memcache port needs a frame per set and the turn scheduler spreads those out. Here a
 * slice adds items until the connection's budget for the turn is spent (connectionDeadline, at
 * least one item a slice), and the next slice runs in the connection's next round
 * (turn_scheduler.ts `later`), taking turns with the busy connections. Meanwhile the session is
 * suspended, as behind a blocking get: its later requests wait and their replies follow; the
 * bytes of the items not yet added count as its request bytes. A request that fits in one slice
 * (nearly every one) is done before this returns, without suspending.
 *
 * Invariants: items are added in order, each once; a failure (the server status, a bad queue
 * name, a journal that can't be written) stops the adding at that item; `done` runs once, after
 * the last item is added, and before the session resumes, so its reply keeps its place. If the
 * connection closes first the adding stops and `done` never runs; the items added so far stay
 * (as the queues createInTurns made do). An item whose fanout children are fed over turns
 * (set_item.ts) is fed before the next item is added, or before `done` for the last one.
 */
import type { Commit } from "../../journal/commit.ts";
import type { ServerContext } from "../context.ts";
import { connectionDeadline, later, turnClock } from "../turn_scheduler.ts";
import { isFailure, type Failure } from "./failure.ts";
import type { Session } from "./session.ts";
import { feedMark, feedStartedSince, isStored, setItem } from "./set_item.ts";

/** What the slices run in later turns are called in a log line (the first runs in the request's execution). */
const ADDING = "adding a put's items";

/** What adding the items came to: the commits of those stored, and the failure that stopped it, if any. */
export interface SetItemsOutcome {
  readonly stored: readonly Commit[];
  readonly failure: Failure | null;
}

/**
 * Adds `items` to `queueName` in order (see above), each as setItem does with `expiry` (unix ms,
 * 0: never), `now` and flags 0, then calls `done`. A full queue's or too large an item's refusal
 * is not stored and the adding goes on.
 */
export function setItemsInTurns(
  ctx: ServerContext,
  session: Session,
  queueName: string,
  items: readonly Uint8Array[],
  expiry: number,
  now: number,
  done: (outcome: SetItemsOutcome) => void,
): void {
  const stored: Commit[] = [];
  let next = 0;
  let suspended = false;
  let cancelled = false;
  const slice = (): void => {
    if (cancelled) return;
    const until = connectionDeadline();
    while (next < items.length) {
      const mark = feedMark();
      const outcome = setItem(ctx, queueName, items[next++]!, expiry, now, 0);
      const feed = feedStartedSince(mark);
      if (isStored(outcome)) stored.push(outcome);
      else if (isFailure(outcome)) return finish(outcome);
      if (feed !== null) {
        suspend();
        return feed.onSettled(() => later(() => session.continueSafely(ADDING, slice)));
      }
      if (next < items.length && turnClock.now() >= until) {
        suspend();
        return later(() => session.continueSafely(ADDING, slice));
      }
    }
    finish(null);
  };
  const suspend = (): void => {
    if (!suspended) session.suspend(() => (cancelled = true), bytesFrom(items, next));
    suspended = true;
  };
  const finish = (failure: Failure | null): void => {
    done({ stored, failure });
    if (suspended) session.resume();
  };
  slice();
}

/** The bytes of `items` from `start` on. */
export function bytesFrom(items: readonly Uint8Array[], start = 0): number {
  let bytes = 0;
  for (let i = start; i < items.length; i++) bytes += items[i]!.length;
  return bytes;
}
