/**
 * One load-generator process of the cluster benchmark (bench/cluster.ts): producers and consumers
 * of the queue `bench`, either through the client library (`KestrelClient` on 1-3 servers) or
 * straight on one server's sockets (`Pipeline`, the benchmarks' own memcache connection).
 *
 * `runClusterWorker(job)` starts this file as a child (`bun cluster_worker.ts '<job as JSON>'`).
 * The child connects and prints `ready`; on `go` (a line on its stdin) it starts the load and
 * prints `progress <produced> <received>` every 50 ms; on `stop` it lets every loop finish its
 * request in flight, closes its connections and prints `result <WorkerResult as JSON>`. The
 * parent decides when to stop (every item put was received, across all its workers), since no
 * single worker can see the others' counts.
 *
 * Loops, each one request in flight at a time (closed loop):
 *   producer  puts the fixed item (`benchItem`) until the process's quota is used up;
 *   consumer  kind "get": `get(bench, { timeoutMs })` through the client, `get bench/t=<ms>` direct;
 *             kind "consume": one `consume(bench, handler, { concurrency })` with all of the
 *             process's consumers (reliable reads; direct mode has no such loop).
 * Every item received is compared with the fixed item. Every error is kept (the first 20 distinct
 * messages, with counts), never retried here: the client does its own retries. Times are absolute
 * (ms since the epoch, sub-ms precision) so the parent can compare workers.
 */
import { createInterface } from "node:readline";
import { KestrelClient } from "../../src/client/index.ts";
import { Pipeline, expectStored } from "./pipeline.ts";
import { HOST, KEY, benchItem, buildRequests, type ReplyKind } from "./protocol.ts";
import { trackChild } from "./targets.ts";

export type Mode = "direct" | "client";
export type LoadKind = "put" | "get" | "consume" | "mixed";

export interface WorkerJob {
  readonly mode: Mode;
  /** Direct mode uses the first. */
  readonly ports: readonly number[];
  readonly kind: LoadKind;
  readonly producers: number;
  readonly consumers: number;
  /** Items this process's producers put in all. */
  readonly quota: number;
  readonly itemSize: number;
  /** How long one get waits for an item (client `timeoutMs`, direct `t=`). */
  readonly getWaitMs: number;
}

export interface WorkerResult {
  readonly produced: number;
  readonly received: number;
  /** Received items whose bytes were not the fixed item. */
  readonly corrupt: number;
  /** Error message -> how many times. */
  readonly errors: Record<string, number>;
  /** When `go` arrived, and when the last put was acknowledged or the last item received (NaN if none). */
  readonly startedAt: number;
  readonly lastAt: number;
  /** CPU seconds this process used from `go` to `stop`. */
  readonly cpuSeconds: number;
}

/** A started worker: its progress so far, and the controls. */
export interface WorkerHandle {
  readonly progress: { produced: number; received: number };
  /** Resolves once the worker printed `ready`. */
  readonly ready: Promise<void>;
  go(): void;
  /** Sends `stop` (once; later calls return the same promise); resolves with the worker's result, rejects if it failed. */
  stop(): Promise<WorkerResult>;
}

const PROGRESS_EVERY_MS = 50;
const MAX_DISTINCT_ERRORS = 20;

/** Starts a worker process for `job`. */
export function runClusterWorker(job: WorkerJob): WorkerHandle {
  const child = trackChild(Bun.spawn([process.execPath, import.meta.path, JSON.stringify(job)], { stdin: "pipe", stdout: "pipe", stderr: "pipe" }));
  const progress = { produced: 0, received: 0 };
  let markReady = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  let result: WorkerResult | null = null;
  const lines = (async () => {
    for await (const line of textLines(child.stdout)) {
      const [word, ...rest] = line.split(" ");
      if (word === "ready") markReady();
      else if (word === "progress") [progress.produced, progress.received] = rest.map(Number) as [number, number];
      else if (word === "result") result = JSON.parse(rest.join(" ")) as WorkerResult;
    }
  })();
  const failed = (async () => {
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text(), lines]);
    if (code !== 0 || result === null) throw new Error(`cluster worker (${job.mode} ${job.kind}) failed: ${stderr.trim() || `exit code ${code}`}`);
    return result;
  })();
  const send = (word: string) => {
    child.stdin.write(`${word}\n`);
    void child.stdin.flush();
  };
  let stopped: Promise<WorkerResult> | null = null;
  return {
    progress,
    ready: Promise.race([ready, failed.then(() => {})]),
    go: () => send("go"),
    stop: () => {
      if (stopped !== null) return stopped;
      send("stop");
      void child.stdin.end();
      return (stopped = failed);
    },
  };
}

async function* textLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    const parts = buffered.split("\n");
    buffered = parts.pop()!;
    yield* parts;
  }
}

// ---- the child ----

/** What the loops share: counts, the last useful moment, the errors, whether to stop. */
interface Tally {
  produced: number;
  received: number;
  corrupt: number;
  lastAt: number;
  stopping: boolean;
  readonly errors: Map<string, number>;
}

const now = (): number => performance.timeOrigin + performance.now();

function noteError(tally: Tally, error: unknown): void {
  let message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  if (tally.errors.size >= MAX_DISTINCT_ERRORS && !tally.errors.has(message)) message = "(other errors)";
  tally.errors.set(message, (tally.errors.get(message) ?? 0) + 1);
}

/** The loops of one job on one transport: `run` resolves once every loop ended after `tally.stopping`. */
interface Load {
  run(tally: Tally): Promise<void>;
  /** Cuts off waits in progress (consume's signal). */
  interrupt(): void;
  close(): Promise<void>;
}

/** Hands out one item of the quota at a time, to all of the process's producers; false once it is used up or the worker stops. */
function quotaTaker(job: WorkerJob, tally: Tally): () => boolean {
  let left = job.quota;
  return () => !tally.stopping && left-- > 0;
}

/** `count` copies of `loop` running at once, each until it returns. */
function loops(count: number, loop: () => Promise<void>): Array<Promise<void>> {
  return Array.from({ length: count }, loop);
}

function received(tally: Tally, intact: boolean): void {
  if (!intact) tally.corrupt++;
  tally.received++;
  tally.lastAt = now();
}

function produced(tally: Tally): void {
  tally.produced++;
  tally.lastAt = now();
}

function clientLoad(job: WorkerJob): Load {
  const client = new KestrelClient({ servers: job.ports.map((port) => `${HOST}:${port}`) });
  const item = benchItem(job.itemSize);
  const stop = new AbortController();
  const take = (data: Uint8Array, tally: Tally) => received(tally, Buffer.compare(data, item) === 0);
  return {
    async run(tally) {
      const taken = quotaTaker(job, tally);
      const producers = loops(job.producers, async () => {
        while (taken()) await client.put(KEY, item).then(() => produced(tally), (error) => noteError(tally, error));
      });
      const onError = (error: unknown) => noteError(tally, error);
      const consumers =
        job.kind === "consume"
          ? [client.consume(KEY, (data) => take(data, tally), { concurrency: job.consumers, signal: stop.signal, onError })]
          : loops(job.consumers, async () => {
              while (!tally.stopping) {
                const data = await client.get(KEY, { timeoutMs: job.getWaitMs }).catch(onError);
                if (data) take(data, tally);
              }
            });
      await Promise.all([...producers, ...(job.consumers > 0 ? consumers : [])]);
    },
    interrupt: () => stop.abort(),
    close: () => client.close(),
  };
}

async function directLoad(job: WorkerJob): Promise<Load> {
  if (job.kind === "consume") throw new Error("direct mode has no consume loop (reliable reads through the client only)");
  const port = job.ports[0]!;
  const requests = buildRequests(job.itemSize, `${KEY}/t=${job.getWaitMs}`);
  let tally: Tally | null = null;
  const countHit = (kind: ReplyKind, detail: string): string | null => {
    if (kind === "hit" || kind === "corrupt") received(tally!, kind === "hit");
    return kind === "hit" || kind === "miss" || kind === "corrupt" ? null : `get answered ${kind}${detail === "" ? "" : `: ${detail}`}`;
  };
  const connect = async (role: string, i: number, valueBlock: Uint8Array, check: (kind: ReplyKind, detail: string) => string | null) => {
    const pipeline = new Pipeline(`${role} ${i} to ${HOST}:${port}`, valueBlock, check);
    await pipeline.connect(port);
    return pipeline;
  };
  const producers = await Promise.all(Array.from({ length: job.producers }, (_, i) => connect("producer", i, new Uint8Array(0), expectStored)));
  const consumers = await Promise.all(Array.from({ length: job.consumers }, (_, i) => connect("consumer", i, requests.valueBlock, countHit)));
  return {
    async run(shared) {
      tally = shared;
      const taken = quotaTaker(job, shared);
      // A pipeline that failed stays failed: its loop ends with the error noted.
      const sending = (pipeline: Pipeline, request: Uint8Array, more: () => boolean, after: () => void) => async () => {
        try {
          while (more()) await pipeline.send(request, 1).then(after);
        } catch (error) {
          noteError(shared, error);
        }
      };
      await Promise.all([
        ...producers.map((pipeline) => sending(pipeline, requests.set, taken, () => produced(shared))()),
        ...consumers.map((pipeline) => sending(pipeline, requests.get, () => !shared.stopping, () => {})()),
      ]);
    },
    interrupt: () => {},
    close: async () => {
      for (const pipeline of [...producers, ...consumers]) pipeline.close();
    },
  };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "null") as WorkerJob;
  const load = job.mode === "client" ? clientLoad(job) : await directLoad(job);
  const tally: Tally = { produced: 0, received: 0, corrupt: 0, lastAt: NaN, stopping: false, errors: new Map() };
  const commands = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  console.log("ready");
  await commands.next(); // go
  const startedAt = now();
  const cpuBefore = process.cpuUsage();
  const running = load.run(tally);
  const reporter = setInterval(() => console.log(`progress ${tally.produced} ${tally.received}`), PROGRESS_EVERY_MS);
  await commands.next(); // stop (or the end of stdin)
  const cpu = process.cpuUsage(cpuBefore);
  tally.stopping = true;
  load.interrupt();
  await running;
  clearInterval(reporter);
  await load.close();
  const result: WorkerResult = {
    produced: tally.produced,
    received: tally.received,
    corrupt: tally.corrupt,
    errors: Object.fromEntries(tally.errors),
    startedAt,
    lastAt: tally.lastAt,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
  console.log(`result ${JSON.stringify(result)}`);
}

if (import.meta.main) {
  try {
    await main();
    process.exit(0);
  } catch (error) {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  }
}
