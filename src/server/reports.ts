/**
 * The text of `stats`, `dump_stats` and `dump_config`.
 */
import { queueConfigFor } from "../config/load.ts";
import { QUEUE_KEYS, showValue } from "../config/schema.ts";
import type { ServerContext } from "./context.ts";
import { QUEUE_STAT_NAMES, takeSnapshot } from "./snapshot.ts";

export function statsReport(ctx: ServerContext): string {
  const snapshot = takeSnapshot(ctx);
  const lines = snapshot.server.map(([name, value]) => `STAT ${name} ${value}\r\n`);
  for (const queue of snapshot.queues) {
    for (const [name, field] of QUEUE_STAT_NAMES) lines.push(`STAT queue_${queue.name}_${name} ${queue.stats[field]}\r\n`);
  }
  return lines.join("") + "END\r\n";
}

export function dumpStatsReport(ctx: ServerContext): string {
  const blocks = takeSnapshot(ctx).queues.map((queue) => {
    const body = QUEUE_STAT_NAMES.map(([name, field]) => `  ${name}=${queue.stats[field]}\r\n`).join("");
    return `queue '${queue.name}' {\r\n${body}}\r\n`;
  });
  return blocks.join("") + "END\r\n";
}

export function dumpConfigReport(ctx: ServerContext): string {
  const config = ctx.config();
  const blocks = takeSnapshot(ctx).queues.map((queue) => {
    const settings = queueConfigFor(config, queue.name);
    const body = QUEUE_KEYS.map((spec) => `  ${spec.key}=${showValue(settings[spec.field])}\r\n`).join("");
    return `queue '${queue.name}' {\r\n${body}}\r\n`;
  });
  return blocks.join("") + "END\r\n";
}
