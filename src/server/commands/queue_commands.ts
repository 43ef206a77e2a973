/**
 * Commands on whole queues: flush, flush_expired, delete and their all-queue forms. They only
 * take items away, so every server status lets them run (status.ts). And finding a queue by name
 * for the other commands.
 */
import type { PersistentQueue } from "../../queue/persistent_queue.ts";
import { QueueUnavailableError } from "../../queue/queue_collection.ts";
import { isValidQueueName } from "../../queue_name.ts";
import type { ServerContext } from "../context.ts";
import { badRequest, unavailable, type Failure } from "./failure.ts";

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

/** Empties the queue `name` (no queue: nothing to do); returns why it could not, or null. */
export function flushQueue(ctx: ServerContext, name: string): string | null {
  return ctx.queues.get(name)?.flush() ?? null;
}

/** Removes the expired items of queue `name`; returns how many. */
export function flushExpired(ctx: ServerContext, name: string, now: number): number {
  return ctx.queues.get(name)?.flushExpired(now) ?? 0;
}

/** Drops queue `name` and its journal files. */
export function deleteQueue(ctx: ServerContext, name: string): void {
  ctx.queues.delete(name);
}

/** Empties every queue; returns why any could not be flushed. */
export function flushAllQueues(ctx: ServerContext): string[] {
  return ctx.queues.flushAll();
}

/** Removes the expired items of every queue; returns how many. */
export function flushAllExpired(ctx: ServerContext, now: number): number {
  return ctx.queues.flushAllExpired(now);
}
