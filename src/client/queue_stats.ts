/**
 * The per-queue figures of a server, read from its `dump_stats` reply: one block per queue,
 *
 *   queue '<name>' {
 *     items=12
 *     open_transactions=1
 *     ...
 *   }
 *
 * then END (the ReplyCollector's "lines" shape hands over the lines before END). `stats` carries
 * the same figures as `queue_<name>_<stat>` lines, but queue and stat names may both hold '_', so
 * only the blocks say for certain which queue a figure belongs to.
 *
 * Invariants: every figure is a number (a value that is not one is left out); a line that is
 * neither a block's header, a `key=value` inside a block nor a block's end throws
 * `MalformedReply`, so a reply that is not a dump_stats reply is never read as one.
 */
import { Buffer } from "node:buffer";
import { MalformedReply } from "./protocol.ts";

export const DUMP_STATS_REQUEST: Uint8Array = Buffer.from("dump_stats\r\n", "latin1");

/** A queue's figures by stat name (`items`, `open_transactions`, `age`, ...). */
export type QueueFigures = Readonly<Record<string, number>>;

/** The queues of a dump_stats reply by name, in the order the server listed them. */
export function queueStatsFromLines(lines: readonly string[]): Map<string, QueueFigures> {
  const queues = new Map<string, QueueFigures>();
  let current: Record<string, number> | null = null;
  for (const line of lines) {
    // A name may hold `'` but no space: the header's end is the last `' {`.
    const header = /^queue '(\S*)' \{$/.exec(line);
    if (current === null && header !== null) {
      current = {};
      queues.set(header[1]!, current);
      continue;
    }
    if (current !== null && line === "}") {
      current = null;
      continue;
    }
    const entry = /^\s+([a-z_]+)=(.*)$/.exec(line);
    if (current === null || entry === null) throw new MalformedReply(`'${line.slice(0, 200)}' in a dump_stats reply`);
    const value = Number(entry[2]);
    if (entry[2] !== "" && Number.isFinite(value)) current[entry[1]!] = value;
  }
  if (current !== null) throw new MalformedReply("a dump_stats block with no end");
  return queues;
}
