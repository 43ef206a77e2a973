/**
 * Which requests are light: cheap enough to run at once when the turn's budget is spent
 * (turn_scheduler.ts), so a client sending one small request (a ping, a `get` of an empty queue)
 * is answered within a turn rather than after every busy connection had its share.
 *
 * A request is judged before it runs, from what is known without doing its work: a command line
 * longer than LIGHT_LINE_BYTES (a get of many keys) is heavy, looked at before it is even parsed;
 * a `get` is heavy if the items it would hand out come to more than LIGHT_ITEM_BYTES or any of
 * them must first be read back from the journal (PersistentQueue.takeCost): 300 clients' opens of
 * 1 MiB items waiting on disk are 300 MiB of reads, not 300 small requests; a `monitor` likewise.
 * Everything else is light. Judging never changes a queue and never creates one.
 */
import { parseGetKeyCached } from "./get_options.ts";
import type { ServerContext } from "../context.ts";
import type { Frame } from "./request_parser.ts";

/** A command line longer than this (a get of many keys) is heavy. */
export const LIGHT_LINE_BYTES = 256;
/** Item bytes a light get may hand out, in all. */
export const LIGHT_ITEM_BYTES = 64 * 1024;

/** Whether `frame` is light (see above); call it only on a frame whose line was at most LIGHT_LINE_BYTES. */
export function isLight(frame: Frame, ctx: ServerContext): boolean {
  if (frame.kind === "line" && frame.command === "monitor") return isLightMonitor(frame.args, ctx);
  if (frame.kind !== "line" || (frame.command !== "get" && frame.command !== "gets")) return true;
  let itemBytes = 0;
  for (const key of frame.args) {
    const request = parseGetKeyCached(key);
    // A bad key makes the get a client error; a key that only closes or aborts hands out nothing.
    if (typeof request === "string") return true;
    if (request.abort || (request.close && !request.open)) continue;
    itemBytes += ctx.queues.get(request.queue)?.takeCost() ?? 0;
    if (itemBytes > LIGHT_ITEM_BYTES) return false;
  }
  return true;
}

/**
 * A monitor is judged as a get of as many keys as items it may open at once (its max_items, at
 * most the queue's max_open_transactions), each costing what the head would.
 */
function isLightMonitor(args: readonly string[], ctx: ServerContext): boolean {
  const queue = args[0] === undefined ? undefined : ctx.queues.get(args[0]);
  if (queue === undefined) return true;
  const limit = queue.settings.maxOpenTransactions;
  const maxItems = Number(args[2] ?? limit);
  const items = Number.isFinite(maxItems) ? Math.min(maxItems, limit) : limit;
  return queue.takeCost() * items <= LIGHT_ITEM_BYTES;
}
