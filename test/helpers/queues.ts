/** Reading a queue collection's queues in tests. */
import type { QueueCollection } from "../../src/queue/queue_collection.ts";
import { text } from "./bytes.ts";

/** Takes every item of queue `name` (created if needed), in order, as latin1 text. */
export function drainQueue(queues: QueueCollection, name: string, now = Date.now()): string[] {
  const out: string[] = [];
  const queue = queues.getOrCreate(name);
  for (let item = queue.remove(now); item !== undefined; item = queue.remove(now)) out.push(text(item.data));
  return out;
}

/** Counts reads of the figures (`stats()`) of the queues live now, from now on. */
export function countStatsReads(queues: QueueCollection): { reads: number } {
  const count = { reads: 0 };
  for (const queue of queues.all()) {
    const stats = queue.stats.bind(queue);
    queue.stats = (now?: number) => (count.reads++, stats(now));
  }
  return count;
}
