/**
 * Heavy load from a process of its own, so that the process timing the server (the stall probe)
 * never waits behind the load generator's work.
 *
 * `runLoad(job)` starts this file as a child (`bun load_process.ts '<job as JSON>'`, under
 * `nice` when there is one, so the probe's timer wins the CPU) and resolves with what the child
 * prints: one JSON `LoadResult` line. The child runs the job on `connections` pipelining
 * connections (`Pipeline`, `batch` requests per write) and checks every reply:
 *   sets   `set <queue> 0 <exptime> <itemSize>` of a fixed item (`benchItem`), `count` of them in
 *          all or as many as fit in `seconds`; every reply must be STORED.
 *   drain  reliable reads, `get <queue>/open` then `get <queue>/close`, until a batch finds the
 *          queue empty; every item must be the fixed item.
 *   blocked  a crowd of clients blocked in a get, ended by one set or by their timeouts
 *          (blocked_load.ts).
 * A wrong reply, a closed connection or a batch unanswered for a minute makes the child exit 1 and
 * `runLoad` reject with the child's message. The child is tracked, so `cleanUpNow` kills it.
 */
import { type BlockedJob, runBlocked } from "./blocked_load.ts";
import { HOST, benchItem, type ReplyKind } from "./protocol.ts";
import { Pipeline, type ReplyCheck, expectStored } from "./pipeline.ts";
import { trackChild } from "./targets.ts";

export interface SetsJob {
  readonly kind: "sets";
  readonly port: number;
  readonly queue: string;
  readonly itemSize: number;
  /** As in the protocol: 0 = never, otherwise seconds from now or an absolute unix time. */
  readonly exptime: number;
  readonly connections: number;
  readonly batch: number;
  /** Stop after this many sets in all, or (null) when `seconds` have passed. */
  readonly count: number | null;
  readonly seconds: number;
}

export interface DrainJob {
  readonly kind: "drain";
  readonly port: number;
  readonly queue: string;
  readonly itemSize: number;
  readonly connections: number;
  /** Open/close pairs per write. */
  readonly batch: number;
}

export type LoadJob = SetsJob | DrainJob | BlockedJob;

export interface LoadResult {
  /** Items stored (sets), received (drain), or clients answered (blocked). */
  readonly items: number;
  /** From the first request written to the last reply (blocked: see blocked_load.ts). */
  readonly ms: number;
}

/** Runs `job` in a child process; rejects if it fails. */
export async function runLoad(job: LoadJob): Promise<LoadResult> {
  const nice = Bun.which("nice");
  const argv = [...(nice === null ? [] : [nice, "-n", "10"]), process.execPath, import.meta.path, JSON.stringify(job)];
  const child = trackChild(Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" }));
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`load process (${job.kind} on '${job.queue}') failed: ${stderr.trim() || `exit code ${code}`}`);
  return JSON.parse(stdout) as LoadResult;
}

/** `job.connections` connections, each checking its replies with the check `checkFor` makes for it. */
async function connections(job: SetsJob | DrainJob, valueBlock: Uint8Array, checkFor: (i: number) => ReplyCheck): Promise<Pipeline[]> {
  const pipelines = Array.from({ length: job.connections }, (_, i) => new Pipeline(`${job.kind} connection ${i} to ${HOST}:${job.port}`, valueBlock, checkFor(i)));
  await Promise.all(pipelines.map((pipeline) => pipeline.connect(job.port)));
  return pipelines;
}

/** Runs `work` on every connection at once, then closes them all; returns how long the work took, in ms. */
async function onEach(pipelines: readonly Pipeline[], work: (pipeline: Pipeline, i: number) => Promise<void>): Promise<number> {
  const began = performance.now();
  try {
    await Promise.all(pipelines.map(work));
    return performance.now() - began;
  } finally {
    for (const pipeline of pipelines) pipeline.close();
  }
}

async function runSets(job: SetsJob): Promise<LoadResult> {
  const record = Buffer.concat([Buffer.from(`set ${job.queue} 0 ${job.exptime} ${job.itemSize}\r\n`, "latin1"), benchItem(job.itemSize), Buffer.from("\r\n")]);
  const requests = Buffer.concat(Array.from({ length: job.batch }, () => record));
  let left = job.count ?? Infinity;
  let stored = 0;
  const pipelines = await connections(job, new Uint8Array(0), () => expectStored);
  const deadline = performance.now() + job.seconds * 1000;
  const ms = await onEach(pipelines, async (pipeline) => {
    for (;;) {
      const count = Math.min(job.batch, left);
      if (count === 0 || (job.count === null && performance.now() >= deadline)) return;
      left -= count;
      await pipeline.send(requests.subarray(0, count * record.length), count);
      stored += count;
    }
  });
  return { items: stored, ms };
}

async function runDrain(job: DrainJob): Promise<LoadResult> {
  const pair = Buffer.from(`get ${job.queue}/open\r\nget ${job.queue}/close\r\n`, "latin1");
  const requests = Buffer.concat(Array.from({ length: job.batch }, () => pair));
  /** Items received, per connection. */
  const hits = new Array<number>(job.connections).fill(0);
  const checkFor = (i: number) => (kind: ReplyKind, detail: string) => {
    if (kind === "hit") hits[i]!++;
    return kind === "hit" || kind === "miss" ? null : `get answered ${kind}${detail === "" ? "" : `: ${detail}`}`;
  };
  const pipelines = await connections(job, Buffer.concat([benchItem(job.itemSize), Buffer.from("\r\n")]), checkFor);
  const ms = await onEach(pipelines, async (pipeline, i) => {
    // Nothing refills the queue: a batch that does not get an item for every open found it empty.
    for (let full = true; full; ) {
      const before = hits[i]!;
      await pipeline.send(requests, 2 * job.batch);
      full = hits[i]! - before === job.batch;
    }
  });
  return { items: hits.reduce((sum, n) => sum + n, 0), ms };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "null") as LoadJob;
  console.log(JSON.stringify(job.kind === "sets" ? await runSets(job) : job.kind === "drain" ? await runDrain(job) : await runBlocked(job)));
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
