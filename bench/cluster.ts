/**
 * Cluster benchmark: items/s through the client library (`KestrelClient`) on 1, 2 and 3 servers
 * on this machine, next to one server driven directly by the benchmarks' own memcache connection.
 *
 * What it measures
 *   Each run moves BENCH_ITEMS items of the queue `bench` and reports items per second, from the
 *   first worker's start to the last put acknowledged or item received. Closed-loop load, one
 *   request in flight per producer or consumer:
 *     put      N producers `put` until the items are all stored;
 *     get      the items are put first (pipelined, spread evenly over the servers, not timed),
 *              then N consumers `get(bench, { timeoutMs })` until every item has come back;
 *     consume  the same, taken with `consume(bench, handler, { concurrency: N })`: reliable reads,
 *              each item confirmed after its handler (`get bench/close/open`);
 *     mixed    N producers and N consumers at once (the consumers with `consume`), until every
 *              item put has been received.
 *   Targets: `direct`, one server driven straight on its sockets with `bench/lib/pipeline.ts`
 *   (`set`, and `get bench/t=<wait>` for every kind that takes items: the baseline of the client's
 *   cost; it has no consume loop), and `client, n servers` for each cluster size. The load runs
 *   in separate worker processes (bench/lib/cluster_worker.ts), 1 or more (BENCH_PROCESSES): the
 *   N loops are shared out among them and their counts summed, so one saturated process is not
 *   the ceiling. Each worker is a fresh Bun process: connecting and JIT warm-up fall inside the
 *   run, as for a real client.
 *
 *   The machine has few cores: more servers on one box do not add CPU, so the 2- and 3-server
 *   rows measure the client's cost of spreading load and the scheduling of more processes, not
 *   scale-out.
 *
 * Rounds
 *   All servers start once and idle when not used. Every round runs each (kind, concurrency,
 *   processes) case on every target back to back, the target order rotating between rounds; per
 *   case and target the median round is shown, with the min-max over rounds.
 *
 * Checks (anything wrong is listed under "Problems")
 *   Items received == items put (prefilled or by producers), every received item has the bytes
 *   put, the servers counted exactly as many sets as puts were acknowledged (a retried put would
 *   show), hold exactly the items not taken (none after get/consume/mixed) and none still open,
 *   and no operation failed.
 *
 * Run
 *   bun run bench:cluster
 *   BENCH_ROUNDS=1 BENCH_ITEMS=5000 BENCH_CONCURRENCY=10 BENCH_PROCESSES=1 bun bench/cluster.ts
 *
 * Environment
 *   BENCH_ROUNDS       rounds (default 3)
 *   BENCH_ITEMS        items per run (default 20000)
 *   BENCH_ITEM_SIZE    bytes per item (default 1024)
 *   BENCH_CONCURRENCY  producers and/or consumers per run, comma-separated (default "1,10,50")
 *   BENCH_PROCESSES    worker process counts to try, comma-separated (default "1,2"; a count
 *                      above the concurrency is skipped)
 *   BENCH_SERVERS      cluster sizes through the client (default "1,2,3")
 *   BENCH_KINDS        any of put,get,consume,mixed (default all)
 *   BENCH_GET_WAIT_MS  how long one get waits for an item (default 500)
 *   BENCH_RUN_TIMEOUT  seconds before a run that has not finished is stopped (default 120)
 *
 * Output: markdown tables on stdout (how to read them, items/s, details with CPU, problems),
 * progress on stderr.
 */
import { readStats } from "./lib/client.ts";
import { type Combined, type Expected, combine, itemsMoved, runProblems, shareOut } from "./lib/cluster_runs.ts";
import { type ClusterSettings, readClusterSettings } from "./lib/cluster_settings.ts";
import { type LoadKind, type Mode, type WorkerHandle, type WorkerJob, runClusterWorker } from "./lib/cluster_worker.ts";
import { runLoad } from "./lib/load_process.ts";
import { KEY } from "./lib/protocol.ts";
import { integer, lowerMedian, machine, percent, rotated, spread, table } from "./lib/report.ts";
import { runBench } from "./lib/run_bench.ts";
import { formatDuration } from "./lib/settings.ts";
import { machineBusySeconds } from "./lib/cpu_time.ts";
import { startKestrel, type Target } from "./lib/targets.ts";

/** How often the coordinator adds up the workers' progress. */
const POLL_MS = 5;
/** A worker process busier than this (fraction of a core) may be the bottleneck. */
const SATURATED = 0.9;

interface TargetSpec {
  readonly label: string;
  readonly mode: Mode;
  readonly servers: number;
}

interface Case {
  readonly kind: LoadKind;
  readonly concurrency: number;
  readonly processes: number;
}

interface RunResult {
  readonly round: number;
  readonly itemsPerSecond: number;
  readonly combined: Combined;
  /** Fractions of one core over the run: the servers used, all workers, the busiest worker, the rest of the machine. */
  readonly serverCpu: number;
  readonly clientCpu: number;
  readonly maxWorkerCpu: number;
  readonly otherCpu: number;
  /** CPU time of all workers per item moved: the load generator's (or the client's) cost of an item. */
  readonly clientCpuMicrosPerItem: number;
  readonly problems: readonly string[];
}

/** Results per case key, then per target label. */
type Results = Map<string, Map<string, RunResult[]>>;

const caseKey = (c: Case): string => `${c.kind} ${c.concurrency} ${c.processes}`;

function targetSpecs(settings: ClusterSettings): TargetSpec[] {
  return [{ label: "direct", mode: "direct", servers: 1 }, ...settings.servers.map((n): TargetSpec => ({ label: `client, ${n} server${n === 1 ? "" : "s"}`, mode: "client", servers: n }))];
}

function cases(settings: ClusterSettings): Case[] {
  return settings.kinds.flatMap((kind) =>
    settings.concurrency.flatMap((concurrency) => settings.processes.filter((p) => p <= concurrency).map((processes) => ({ kind, concurrency, processes }))),
  );
}

const applies = (target: TargetSpec, c: Case): boolean => !(target.mode === "direct" && c.kind === "consume");

// ---- one run ----

interface Snapshot {
  readonly at: number;
  readonly servers: number;
  readonly machine: number;
}

function snapshot(servers: readonly Target[]): Snapshot {
  return { at: performance.now(), servers: servers.reduce((sum, s) => sum + s.cpuSeconds(), 0), machine: machineBusySeconds() };
}

/** The workers for a case: the loops and the items shared out among `processes` processes (none left idle). */
function workerJobs(c: Case, mode: Mode, ports: readonly number[], settings: ClusterSettings): WorkerJob[] {
  const producers = c.kind === "put" || c.kind === "mixed" ? c.concurrency : 0;
  const consumers = c.kind === "put" ? 0 : c.concurrency;
  const producerShares = shareOut(producers, new Array(c.processes).fill(1));
  const consumerShares = shareOut(consumers, new Array(c.processes).fill(1));
  const quotas = shareOut(producers > 0 ? settings.items : 0, producerShares);
  return producerShares.map((p, i) => ({
    mode,
    ports,
    kind: c.kind,
    producers: p,
    consumers: consumerShares[i]!,
    quota: quotas[i]!,
    itemSize: settings.itemSize,
    getWaitMs: settings.getWaitMs,
  }));
}

/** Puts `items` items spread evenly over `servers`, pipelined, before a get or consume run. */
async function prefill(servers: readonly Target[], items: number, itemSize: number): Promise<void> {
  const shares = shareOut(items, servers.map(() => 1));
  await Promise.all(
    servers.map((server, i) => runLoad({ kind: "sets", port: server.port, queue: KEY, itemSize, exptime: 0, connections: 2, batch: 100, count: shares[i]!, seconds: 0 })),
  );
}

/** Polls the workers' progress until every item is put and (if the case takes items) received; false on timeout. */
async function awaitCompletion(workers: readonly WorkerHandle[], produce: number, receive: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  const total = (pick: (w: WorkerHandle) => number) => workers.reduce((sum, w) => sum + pick(w), 0);
  while (performance.now() < deadline) {
    if (total((w) => w.progress.produced) >= produce && total((w) => w.progress.received) >= receive) return true;
    await Bun.sleep(POLL_MS);
  }
  return false;
}

async function serverCounts(servers: readonly Target[]): Promise<{ sets: number; items: number; open: number }> {
  const all = await Promise.all(servers.map((server) => readStats(server.port)));
  const sum = (name: string) => all.reduce((total, stats) => total + (stats.get(name) ?? 0), 0);
  return { sets: sum("cmd_set"), items: sum(`queue_${KEY}_items`), open: sum(`queue_${KEY}_open_transactions`) };
}

async function measure(c: Case, target: TargetSpec, all: readonly Target[], round: number, settings: ClusterSettings): Promise<RunResult> {
  const servers = all.slice(0, target.servers);
  const before = await serverCounts(servers);
  const prefilled = c.kind === "get" || c.kind === "consume" ? settings.items : 0;
  if (prefilled > 0) await prefill(servers, prefilled, settings.itemSize);
  const jobs = workerJobs(c, target.mode, servers.map((s) => s.port), settings);
  const quota = jobs.reduce((sum, job) => sum + job.quota, 0);
  const workers = jobs.map(runClusterWorker);
  try {
    await Promise.all(workers.map((w) => w.ready));
    const start = snapshot(servers);
    for (const worker of workers) worker.go();
    const finished = await awaitCompletion(workers, quota, c.kind === "put" ? 0 : prefilled + quota, settings.runTimeoutSeconds * 1000);
    const end = snapshot(servers);
    const combined = combine(await Promise.all(workers.map((w) => w.stop())));
    const after = await serverCounts(servers);
    const expected: Expected = { kind: c.kind, quota, prefilled, serverSets: after.sets - before.sets, serverItemsLeft: after.items, serverOpen: after.open };
    const wall = (end.at - start.at) / 1000;
    const serverCpu = (end.servers - start.servers) / wall;
    const clientCpu = combined.cpuSeconds / wall;
    const items = itemsMoved(c.kind, combined);
    return {
      round,
      itemsPerSecond: items / combined.spanSeconds,
      combined,
      serverCpu,
      clientCpu,
      maxWorkerCpu: combined.maxCpuSeconds / wall,
      otherCpu: Math.max(0, (end.machine - start.machine) / wall - serverCpu - clientCpu),
      clientCpuMicrosPerItem: (combined.cpuSeconds / items) * 1e6,
      problems: runProblems(expected, combined, finished),
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop().catch(() => null)));
    for (const server of servers) await server.reset();
  }
}

// ---- rounds ----

const caseName = (c: Case): string => `${c.kind}, ${c.concurrency}${c.kind === "mixed" ? `+${c.concurrency}` : ""}, ${c.processes} proc${c.processes === 1 ? "" : "s"}`;

async function runRound(round: number, specs: readonly TargetSpec[], servers: readonly Target[], settings: ClusterSettings, results: Results): Promise<void> {
  console.error(`round ${round}/${settings.rounds}`);
  for (const c of cases(settings)) {
    for (const target of rotated(specs, round).filter((t) => applies(t, c))) {
      const result = await measure(c, target, servers, round, settings);
      const byTarget = results.get(caseKey(c)) ?? new Map<string, RunResult[]>();
      results.set(caseKey(c), byTarget);
      byTarget.set(target.label, [...(byTarget.get(target.label) ?? []), result]);
      const cpu = `CPU servers ${percent(result.serverCpu)}, client ${percent(result.clientCpu)} (busiest process ${percent(result.maxWorkerCpu)}), other ${percent(result.otherCpu)}`;
      const problems = result.problems.length > 0 ? `; ${result.problems.length} problems` : "";
      console.error(`  ${caseName(c)}, ${target.label}: ${integer(result.itemsPerSecond)} items/s (${cpu})${problems}`);
    }
  }
}

// ---- report ----

const medianOf = (runs: readonly RunResult[]): RunResult | undefined => lowerMedian(runs, (r) => r.itemsPerSecond);

function summaryTable(settings: ClusterSettings, specs: readonly TargetSpec[], results: Results): string {
  const clients = specs.filter((t) => t.mode === "client");
  const header = ["load", ...specs.map((t) => `${t.label} items/s`), ...clients.map((t) => `${t.label.replace("client, ", "")} / direct`)];
  const rows = cases(settings).map((c) => {
    const byTarget = results.get(caseKey(c));
    const rate = (label: string) => medianOf(byTarget?.get(label) ?? [])?.itemsPerSecond ?? NaN;
    const direct = rate("direct");
    return [caseName(c), ...specs.map((t) => integer(rate(t.label))), ...clients.map((t) => (Number.isFinite(direct) ? (rate(t.label) / direct).toFixed(2) : "-"))];
  });
  return table(header, rows);
}

function detailTable(settings: ClusterSettings, specs: readonly TargetSpec[], results: Results): string {
  const header = ["load", "target", "items/s", "all rounds (min-max)", "seconds", "servers CPU", "client CPU (all workers)", "busiest worker CPU", "other CPU", "client CPU µs/item"];
  const rows: string[][] = [];
  for (const c of cases(settings)) {
    for (const target of specs) {
      const runs = results.get(caseKey(c))?.get(target.label) ?? [];
      const r = medianOf(runs);
      if (r === undefined) continue;
      const range = spread(runs.map((run) => run.itemsPerSecond));
      rows.push([
        caseName(c),
        target.label,
        integer(r.itemsPerSecond),
        `${integer(range.min)}-${integer(range.max)}`,
        r.combined.spanSeconds.toFixed(2),
        percent(r.serverCpu),
        percent(r.clientCpu),
        percent(r.maxWorkerCpu),
        percent(r.otherCpu),
        integer(r.clientCpuMicrosPerItem),
      ]);
    }
  }
  return table(header, rows);
}

function saturationNote(settings: ClusterSettings, specs: readonly TargetSpec[], results: Results): string {
  const saturated: string[] = [];
  for (const c of cases(settings)) {
    for (const target of specs) {
      const r = medianOf(results.get(caseKey(c))?.get(target.label) ?? []);
      if (r !== undefined && r.maxWorkerCpu >= SATURATED) saturated.push(`${caseName(c)} (${target.label})`);
    }
  }
  const cpu = `CPU is a percentage of one core over the run; "other" is the rest of the machine (other processes, this coordinator, interrupts).`;
  if (saturated.length === 0) return `${cpu} No worker process used ${percent(SATURATED)} of a core in any median run: the load generator was not the bottleneck.`;
  return `${cpu} A worker process used ${percent(SATURATED)} or more of a core in: ${saturated.join("; ")}. There the load generator may be the limit: compare the rows with more processes.`;
}

function problemList(settings: ClusterSettings, specs: readonly TargetSpec[], results: Results, stopProblems: readonly string[]): string {
  const lines: string[] = [];
  for (const c of cases(settings)) {
    for (const target of specs) {
      for (const r of results.get(caseKey(c))?.get(target.label) ?? []) for (const p of r.problems) lines.push(`- ${caseName(c)}, ${target.label}, round ${r.round}: ${p}`);
    }
  }
  lines.push(...stopProblems.map((p) => `- ${p}`));
  return lines.length === 0 ? "None: in every run the items received equal the items put, every item had its bytes, and the servers' counters agree." : lines.join("\n");
}

function report(settings: ClusterSettings, specs: readonly TargetSpec[], results: Results, stopProblems: readonly string[]): string {
  const load =
    `${settings.items.toLocaleString("en-US")} items of ${settings.itemSize} bytes per run, ${settings.rounds} round${settings.rounds === 1 ? "" : "s"}, ` +
    `closed loop over loopback TCP, the load in separate worker processes (1 proc = one), gets waiting up to ${settings.getWaitMs} ms.`;
  const howToRead =
    `**put**: N producers put every item. **get**: the items are put first, then N consumers \`get\` them all. **consume**: the same with \`consume({ concurrency: N })\` (reliable reads). ` +
    `**mixed**: N producers and N consumers (\`consume\`) at once. **direct**: one server driven on raw sockets with the benchmarks' own connection (\`set\`, \`get bench/t=${settings.getWaitMs}\`; no consume loop), ` +
    `the baseline of the client's cost; **client, n servers**: \`KestrelClient\` over n servers, each on this machine. ` +
    `Items/s: items moved (mixed: put and received) over the time from the first worker's start to the last item. The median round is shown. ` +
    `All servers share this machine's cores, so 2 and 3 servers measure the client's cost of spreading the load and the scheduling of more processes, not scale-out.`;
  return [
    `# Cluster through the client\n`,
    `Machine: ${machine()}.`,
    `Load: ${load}\n`,
    `## How to read this\n`,
    `${howToRead}\n`,
    `## Items/s, median round\n`,
    `${summaryTable(settings, specs, results)}\n`,
    `## Details (median round)\n`,
    `${detailTable(settings, specs, results)}\n`,
    `${saturationNote(settings, specs, results)}\n`,
    `## Problems\n`,
    problemList(settings, specs, results, stopProblems),
  ].join("\n");
}

// ---- main ----

async function main(): Promise<void> {
  const settings = readClusterSettings(process.env);
  const specs = targetSpecs(settings);
  const began = performance.now();
  const servers: Target[] = [];
  for (let i = 0; i < Math.max(...settings.servers); i++) servers.push(await startKestrel(`kestrel ${i + 1}`, null));
  console.error(`started ${servers.length} servers on ports ${servers.map((s) => s.port).join(", ")}`);
  const results: Results = new Map();
  const stopProblems: string[] = [];
  try {
    for (let round = 1; round <= settings.rounds; round++) await runRound(round, specs, servers, settings, results);
  } finally {
    for (const [i, server] of servers.entries()) {
      stopProblems.push(...server.notableOutput().map((line) => `kestrel ${i + 1} log: ${line}`));
      stopProblems.push(...(await server.stop()).map((p) => `kestrel ${i + 1}: ${p}`));
    }
  }
  console.error(`done in ${formatDuration((performance.now() - began) / 1000)}`);
  console.log(report(settings, specs, results, stopProblems));
}

await runBench(main, "stopping servers");
