/**
 * The memcache text of `stats`, `dump_stats` and `dump_config`.
 *
 * `stats`, `dump_stats` and `dump_config` of every queue are made as they are sent
 * (report_stream.ts), a queue a step, by name. `stats` first adds every queue to the server's
 * totals (curr_items, bytes, total_items, ...: a sum over 100,000 queues is too long for one
 * turn), then sends the server lines, then the queues' lines, then the aliases' and END.
 * `dump_stats <queue>...` reads only the queues it names, a name a step. A queue's figures (or
 * settings) are read when its step runs; a queue deleted before then is left out (its counters
 * still count in the totals, see collection_totals.ts), or, when named, gets the empty block of a
 * name that is no queue.
 */
import { shownQueueConfig } from "../../config/load.ts";
import { isValidQueueName } from "../../queue_name.ts";
import type { Session } from "../commands/session.ts";
import type { ServerContext } from "../context.ts";
import { aliasBlocks, queueBlock, queueSnapshot, serverStats, type StatsBlock } from "../snapshot.ts";
import { ReportText, streamInSlices } from "./report_stream.ts";

/** How a report writes a queue's or alias's block: `stats` lines, or a `dump_stats` block. */
export type ReportForm = "stats" | "dump";

/** `stats` or `dump_stats` (of every queue): sends the report to `session`, a slice per turn when it is long. */
export function streamReport(session: Session, ctx: ServerContext, form: ReportForm, sliceMs?: number): void {
  streamInSlices(session, (text) => statsSteps(ctx, form, text), sliceMs);
}

function* statsSteps(ctx: ServerContext, form: ReportForm, text: ReportText): Generator<void> {
  // Taken together: the sum's counters are those of the queues deleted before this list was.
  const queues = ctx.queues.byName();
  if (form === "stats") {
    const totals = ctx.queues.totalsSum();
    for (const queue of queues) {
      totals.add(queue);
      yield;
    }
    for (const [name, value] of serverStats(ctx, totals.totals)) text.write(`STAT ${name} ${value}\r\n`);
  }
  for (const queue of queues) {
    if (!queue.isDeleted) writeBlock(text, queueBlock(queueSnapshot(ctx, queue, Date.now())), form);
    yield;
  }
  for (const alias of aliasBlocks(ctx.queues.aliasStats())) writeBlock(text, alias, form);
  text.write("END\r\n");
}

/**
 * One queue's or alias's block: `stats` lines (`STAT queue_<name>_<stat> <value>`) or a
 * `dump_stats` block (`queue '<name>' {`, `  <stat>=<value>`, `}`).
 */
function writeBlock(text: ReportText, block: StatsBlock, form: ReportForm): void {
  const [before, prefix, between, after] = form === "stats" ? ["", `STAT queue_${block.name}_`, " ", ""] : [`queue '${block.name}' {\r\n`, "  ", "=", "}\r\n"];
  text.write(before);
  for (const [name, value] of block.entries) {
    text.write(prefix);
    text.write(name);
    text.write(between);
    text.write(String(value));
    text.write("\r\n");
  }
  text.write(after);
}

/**
 * `dump_stats <queue>...`: only the queues and aliases named, in that order, a name that is
 * neither with an empty block (Kestrel 2); a name no queue could have (a control byte, a `.`) is
 * left out, so the reply never echoes bytes the protocol doesn't allow in a name. (`dump_stats`
 * alone is `streamReport`.) Sent as `streamReport` sends `stats`, a named block a step: one 8 KiB
 * line names up to 4,090 queues (a name may be repeated, each time a block), 1.3 MB of text and
 * 60-300 ms of work made in one turn before it was.
 */
export function streamNamedStats(session: Session, ctx: ServerContext, names: readonly string[], sliceMs?: number): void {
  streamInSlices(session, (text) => namedStatsSteps(ctx, names, text), sliceMs);
}

function* namedStatsSteps(ctx: ServerContext, names: readonly string[], text: ReportText): Generator<void> {
  const aliases = new Map(aliasBlocks(ctx.queues.aliasStats()).map((block) => [block.name, block]));
  for (const name of names) {
    if (!isValidQueueName(name)) continue;
    const queue = ctx.queues.get(name);
    writeBlock(text, queue === undefined ? (aliases.get(name) ?? { name, entries: [] }) : queueBlock(queueSnapshot(ctx, queue, Date.now())), "dump");
    yield;
  }
  text.write("END\r\n");
}

/** `dump_config`: each queue's settings in force, then each alias's destinations, sent as `streamReport` sends `stats`. */
export function streamConfig(session: Session, ctx: ServerContext, sliceMs?: number): void {
  streamInSlices(session, (text) => configSteps(ctx, text), sliceMs);
}

function* configSteps(ctx: ServerContext, text: ReportText): Generator<void> {
  // The config in force when the report began, for every queue, even if a reload comes meanwhile.
  const config = ctx.config();
  for (const queue of ctx.queues.byName()) {
    if (!queue.isDeleted) writeBlock(text, { name: queue.name, entries: shownQueueConfig(config, queue.name) }, "dump");
    yield;
  }
  for (const alias of ctx.queues.aliasStats()) writeBlock(text, { name: alias.name, entries: [["destination_queues", alias.destinations.join(",")]] }, "dump");
  text.write("END\r\n");
}
