/**
 * The memcache text of `stats`, `dump_stats` and `dump_config`.
 */
import { queueConfigFor } from "../../config/load.ts";
import { QUEUE_KEYS, showValue } from "../../config/schema.ts";
import type { ServerContext } from "../context.ts";
import { QUEUE_STAT_NAMES, queuesByName, takeSnapshot } from "../snapshot.ts";

export function statsReport(ctx: ServerContext): string {
  const snapshot = takeSnapshot(ctx);
  const lines = snapshot.server.map(([name, value]) => `STAT ${name} ${value}\r\n`);
  for (const queue of snapshot.queues) {
    for (const [name, field] of QUEUE_STAT_NAMES) lines.push(`STAT queue_${queue.name}_${name} ${queue.stats[field]}\r\n`);
  }
  return lines.join("") + "END\r\n";
}

export function dumpStatsReport(ctx: ServerContext): string {
  return dumpReport(
    takeSnapshot(ctx).queues.map((queue) => ({ name: queue.name, entries: QUEUE_STAT_NAMES.map(([name, field]) => [name, queue.stats[field]] as const) })),
  );
}

export function dumpConfigReport(ctx: ServerContext): string {
  const config = ctx.config();
  return dumpReport(
    queuesByName(ctx).map((queue) => {
      const settings = queueConfigFor(config, queue.name);
      return { name: queue.name, entries: QUEUE_KEYS.map((spec) => [spec.key, showValue(settings[spec.field])] as const) };
    }),
  );
}

/** One `queue '<name>' {` block of `  key=value` lines per queue, then END. */
function dumpReport(queues: ReadonlyArray<{ name: string; entries: ReadonlyArray<readonly [string, unknown]> }>): string {
  const blocks = queues.map(({ name, entries }) => `queue '${name}' {\r\n${entries.map(([key, value]) => `  ${key}=${value}\r\n`).join("")}}\r\n`);
  return blocks.join("") + "END\r\n";
}
