/** flush_expired at once, for tests of the queue (the server spreads it over event-loop turns). */
import { expiredFlush, type PersistentQueue } from "../../src/queue/persistent_queue.ts";
import type { QueueCollection } from "../../src/queue/queue_collection.ts";

/** Every part of a flush_expired of `queue`, now; how many items went. */
export function flushExpiredNow(queue: PersistentQueue, now: number): number {
  const flush = expiredFlush(now);
  while (!queue.flushExpiredPart(flush));
  return flush.removed;
}

/** flush_all_expired, now. */
export function flushAllExpiredNow(queues: QueueCollection, now: number): number {
  let removed = 0;
  for (const queue of [...queues.all()]) removed += flushExpiredNow(queue, now);
  return removed;
}
