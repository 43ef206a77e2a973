/**
 * A load process job (load_process.ts): a crowd of clients blocked in a get on one queue, all
 * ended by one event, for the stall benchmark's scenario 10: one set waking them (peeks, which all
 * see the item), or their waits timing out together.
 *
 * The job connects `clients` connections (a batch at a time), then sends the get on every one of
 * them at once. With `setAfterMs`, it waits until the queue's `waiters` stat counts every client,
 * waits `setAfterMs` more (the stall probe starts meanwhile) and sends one set of the item on a
 * connection of its own. Every client must then be answered as `expect` says: the item (a hit)
 * or END (a miss); anything else, or a client unanswered after a minute, fails the job.
 * `ms` is from the set to the last answer, or (no set) from the first answer to the last: how long
 * the crowd took to be answered. The connections stay open `holdMs` after the last answer, so
 * that a probe ending meanwhile sees the crowd answered, not the crowd closing.
 */
import { exchange, readStats, waitFor } from "./client.ts";
import type { LoadResult } from "./load_process.ts";
import { Pipeline } from "./pipeline.ts";
import { HOST, benchItem, type ReplyKind } from "./protocol.ts";

export interface BlockedJob {
  readonly kind: "blocked";
  readonly port: number;
  readonly queue: string;
  readonly itemSize: number;
  readonly clients: number;
  /** The get every client sends (`get q/peek/t=60000`, `get q/t=3000`). */
  readonly get: string;
  /** Ms to wait, once every client is waiting, before the one set; null: no set. */
  readonly setAfterMs: number | null;
  /** What every client must be answered. */
  readonly expect: "hit" | "miss";
  /** Ms the connections stay open after the last answer. */
  readonly holdMs: number;
}

/** Connections opened at once. */
const CONNECT_BATCH = 500;
const WAITING_TIMEOUT_MS = 60_000;

export async function runBlocked(job: BlockedJob): Promise<LoadResult> {
  const item = benchItem(job.itemSize);
  let answered = 0;
  let firstAnswer = NaN;
  let lastAnswer = NaN;
  const check = (kind: ReplyKind, detail: string): string | null => {
    if (kind !== job.expect) return `\`${job.get}\` answered ${kind}${detail === "" ? "" : `: ${detail}`}, expected a ${job.expect}`;
    lastAnswer = performance.now();
    if (answered++ === 0) firstAnswer = lastAnswer;
    return null;
  };
  const pipelines: Pipeline[] = [];
  for (let i = 0; i < job.clients; i += CONNECT_BATCH) {
    const batch = Array.from({ length: Math.min(CONNECT_BATCH, job.clients - i) }, (_, n) => new Pipeline(`blocked client ${i + n} to ${HOST}:${job.port}`, Buffer.concat([item, Buffer.from("\r\n")]), check));
    await Promise.all(batch.map((pipeline) => pipeline.connect(job.port)));
    pipelines.push(...batch);
  }
  try {
    const request = Buffer.from(`${job.get}\r\n`, "latin1");
    const replies = Promise.all(pipelines.map((pipeline) => pipeline.send(request, 1)));
    const setAt = job.setAfterMs === null ? null : await setOnceWaiting(job, item);
    await replies;
    await Bun.sleep(job.holdMs);
    return { items: answered, ms: lastAnswer - (setAt ?? firstAnswer) };
  } finally {
    for (const pipeline of pipelines) pipeline.close();
  }
}

/** Sends the set once every client waits and `setAfterMs` have passed; when it was sent. */
async function setOnceWaiting(job: BlockedJob, item: Uint8Array): Promise<number> {
  const stat = `queue_${job.queue}_waiters`;
  await waitFor(`${job.clients} clients waiting on '${job.queue}'`, WAITING_TIMEOUT_MS, async () => ((await readStats(job.port)).get(stat) === job.clients ? true : null));
  await Bun.sleep(job.setAfterMs ?? 0);
  const sentAt = performance.now();
  const reply = await exchange(job.port, `set ${job.queue} 0 0 ${item.length}\r\n${Buffer.from(item).toString("latin1")}\r\n`, (text) => text.endsWith("\r\n"));
  if (reply !== "STORED\r\n") throw new Error(`the set that should wake the clients was answered ${JSON.stringify(reply)}`);
  return sentAt;
}
