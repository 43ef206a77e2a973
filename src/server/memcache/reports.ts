/**
 * The memcache text of `stats`, `dump_stats` and `dump_config`.
 *
 * `stats` and `dump_stats` list every queue, so with thousands of them they are megabytes of text
 * (15,000 queues: 8 MiB, and about 90 MiB of intermediate strings and 40-100 ms when made in one
 * go). They are made as they are sent instead (`streamReport`): `stats`'s server lines at once,
 * then the queues' blocks a slice of SLICE_MS per turn, each slice's text handed to the outbox as
 * it is made, then the aliases and END. `dump_stats <queue>...` reads only the queues it names. Meanwhile the connection is suspended, as behind a blocking get: its later requests wait,
 * and their replies follow END. While the client has REPLY_ROOM bytes unread, no slice is made
 * (looked at again every WAIT_MS), so a client that does not read holds at most that much. A
 * queue's figures are read when its slice runs; a queue deleted before then is left out.
 */
import { shownQueueConfig } from "../../config/load.ts";
import type { Session } from "../commands/session.ts";
import type { ServerContext } from "../context.ts";
import { aliasBlocks, queueBlock, queueSnapshot, serverStats, type StatsBlock } from "../snapshot.ts";

/** Work per turn on a `stats` reply's queue lines. */
const SLICE_MS = 2;
/** Unread reply bytes above which a `stats` reply waits for the client. */
const REPLY_ROOM = 1024 * 1024;
/** How often a waiting `stats` reply looks whether the client read. */
const WAIT_MS = 5;
/** Text one slice makes at most. */
const SLICE_BYTES = 256 * 1024;
/** About the bytes of one queue's `stats` lines, with a name of a dozen characters. */
const QUEUE_BLOCK_BYTES = 640;

/** How a report writes a queue's or alias's block: `stats` lines, or a `dump_stats` block. */
export type ReportForm = "stats" | "dump";

/** `stats` or `dump_stats` (of every queue): sends the report to `session`, a slice per turn when it is long (see above). */
export function streamReport(session: Session, ctx: ServerContext, form: ReportForm, sliceMs = SLICE_MS): void {
  if (form === "stats") session.outbox.push(serverStats(ctx).map(([name, value]) => `STAT ${name} ${value}\r\n`).join(""));
  const queues = ctx.queues.byName();
  let next = 0;
  let suspended = false;
  let cancelled = false;
  const slice = (): void => {
    if (cancelled) return;
    if (session.outbox.backlog >= REPLY_ROOM) return void setTimeout(slice, WAIT_MS);
    const until = performance.now() + sliceMs;
    const now = Date.now();
    const text = new StatText(queues.length - next);
    do {
      const queue = queues[next++];
      if (queue !== undefined && !queue.isDeleted) text.add(queueBlock(queueSnapshot(ctx, queue, now)), form);
    } while (next < queues.length && performance.now() < until && text.length < SLICE_BYTES);
    if (next < queues.length) {
      session.outbox.push(text.bytes());
      if (!suspended) session.suspend(() => (cancelled = true));
      suspended = true;
      session.replyReady();
      return void setImmediate(slice);
    }
    for (const alias of aliasBlocks(ctx.queues.aliasStats())) text.add(alias, form);
    session.outbox.push(text.bytes(), "END\r\n");
    if (suspended) session.resume();
  };
  slice();
}

/**
 * Report blocks written as bytes into one buffer: `stats` lines (`STAT queue_<name>_<stat>
 * <value>`) or `dump_stats` blocks (`queue '<name>' {`, `  <stat>=<value>`, `}`). The text of
 * thousands of queues would otherwise be hundreds of thousands of short strings, the garbage of
 * which held the resident set 60-90 MiB up for a moment at 15,000 queues.
 */
class StatText {
  private buffer: Buffer;
  length = 0;

  /** Room for `queues` queues' lines to begin with (it grows by doubling past that). */
  constructor(queues: number) {
    this.buffer = Buffer.allocUnsafe(Math.min(SLICE_BYTES, queues * QUEUE_BLOCK_BYTES) + 4 * 1024);
  }

  add(block: StatsBlock, form: ReportForm): void {
    const [before, prefix, between, after] = form === "stats" ? ["", `STAT queue_${block.name}_`, " ", ""] : [`queue '${block.name}' {\r\n`, "  ", "=", "}\r\n"];
    this.write(before);
    for (const [name, value] of block.entries) {
      this.write(prefix);
      this.write(name);
      this.write(between);
      this.write(String(value));
      this.write("\r\n");
    }
    this.write(after);
  }

  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  private write(text: string): void {
    if (this.length + text.length > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + text.length));
      this.buffer.copy(bigger, 0, 0, this.length);
      this.buffer = bigger;
    }
    this.length += this.buffer.write(text, this.length, "latin1");
  }
}

/**
 * `dump_stats <queue>...`: only the queues and aliases named, in that order, a name that is
 * neither with an empty block (Kestrel 2). (`dump_stats` alone is `streamReport`.)
 */
export function dumpNamedStats(ctx: ServerContext, names: readonly string[]): string {
  const aliases = new Map(aliasBlocks(ctx.queues.aliasStats()).map((block) => [block.name, block]));
  const now = Date.now();
  return dumpReport(
    names.map((name) => {
      const queue = ctx.queues.get(name);
      return queue === undefined ? (aliases.get(name) ?? { name, entries: [] }) : queueBlock(queueSnapshot(ctx, queue, now));
    }),
  );
}

/** Each queue's settings in force, then each alias's destinations. */
export function dumpConfigReport(ctx: ServerContext): string {
  const config = ctx.config();
  const queues = ctx.queues.byName().map((queue) => ({ name: queue.name, entries: shownQueueConfig(config, queue.name) }));
  const aliases = ctx.queues.aliasStats().map((alias) => ({ name: alias.name, entries: [["destination_queues", alias.destinations.join(",")] as const] }));
  return dumpReport([...queues, ...aliases]);
}

/** One `queue '<name>' {` block of `  key=value` lines per queue, then END. */
function dumpReport(queues: ReadonlyArray<{ name: string; entries: ReadonlyArray<readonly [string, unknown]> }>): string {
  const blocks = queues.map(({ name, entries }) => `queue '${name}' {\r\n${entries.map(([key, value]) => `  ${key}=${value}\r\n`).join("")}}\r\n`);
  return blocks.join("") + "END\r\n";
}
