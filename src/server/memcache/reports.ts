/**
 * The memcache text of `stats`, `dump_stats` and `dump_config`.
 */
import { queueConfigFor } from "../../config/load.ts";
import { QUEUE_KEYS, showValue } from "../../config/schema.ts";
import type { ServerContext } from "../context.ts";
import { queuesByName, statsBlocks, takeSnapshot } from "../snapshot.ts";

export function statsReport(ctx: ServerContext): string {
  const snapshot = takeSnapshot(ctx);
  const lines = snapshot.server.map(([name, value]) => `STAT ${name} ${value}\r\n`);
  for (const block of statsBlocks(snapshot)) {
    for (const [name, value] of block.entries) lines.push(`STAT queue_${block.name}_${name} ${value}\r\n`);
  }
  return lines.join("") + "END\r\n";
}

/** `dump_stats [<queue>...]`: every queue and alias, or only those named (Kestrel 2). */
export function dumpStatsReport(ctx: ServerContext, names: readonly string[]): string {
  return dumpReport(statsBlocks(takeSnapshot(ctx), names.length === 0 ? null : names));
}

/** Each queue's settings in force, then each alias's destinations. */
export function dumpConfigReport(ctx: ServerContext): string {
  const config = ctx.config();
  const queues = queuesByName(ctx).map((queue) => {
    const settings = queueConfigFor(config, queue.name);
    return { name: queue.name, entries: QUEUE_KEYS.map((spec) => [spec.key, showValue(settings[spec.field])] as const) };
  });
  const aliases = ctx.queues.aliasStats().map((alias) => ({ name: alias.name, entries: [["destination_queues", alias.destinations.join(",")] as const] }));
  return dumpReport([...queues, ...aliases]);
}

/** One `queue '<name>' {` block of `  key=value` lines per queue, then END. */
function dumpReport(queues: ReadonlyArray<{ name: string; entries: ReadonlyArray<readonly [string, unknown]> }>): string {
  const blocks = queues.map(({ name, entries }) => `queue '${name}' {\r\n${entries.map(([key, value]) => `  ${key}=${value}\r\n`).join("")}}\r\n`);
  return blocks.join("") + "END\r\n";
}
