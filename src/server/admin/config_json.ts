/**
 * /config.json on the admin port: `dump_config` as JSON, `{"queue_defaults": {...}, "queues":
 * {"<name>": {...}, ...}}`, the queues by name, made a queue at a time as the client reads
 * (streamed_body.ts): in one go it was one 40 MB `Response.json` of 100,000 queues, 370-470 ms in
 * one turn. The config is the one in force when the body began; a queue deleted before its turn
 * is left out.
 */
import { shownQueueConfig } from "../../config/load.ts";
import type { PersistentQueue } from "../../queue/persistent_queue.ts";
import type { ServerContext } from "../context.ts";

/** The body's pieces: the defaults, then one piece per queue (of those named by `?queue=`, if any), then the end. */
export function* configJson(url: URL, ctx: ServerContext): Generator<string> {
  const config = ctx.config();
  const settings = (name: string | null) => JSON.stringify(Object.fromEntries(shownQueueConfig(config, name)));
  yield `{"queue_defaults":${settings(null)},"queues":{`;
  let first = true;
  for (const queue of queuesOf(url, ctx)) {
    if (queue.isDeleted) continue;
    yield `${first ? "" : ","}${JSON.stringify(queue.name)}:${settings(queue.name)}`;
    first = false;
  }
  yield "}}";
}

/** Every queue by name, or those named by `?queue=` that exist. */
function queuesOf(url: URL, ctx: ServerContext): readonly PersistentQueue[] {
  if (!url.searchParams.has("queue")) return ctx.queues.byName();
  return [...new Set(url.searchParams.getAll("queue"))].sort().flatMap((name) => ctx.queues.get(name) ?? []);
}
