/**
 * Throughput benchmark driven by a Bun client (`BENCH_CLIENT=bun npm run bench`; by default
 * `npm run bench` runs bench/throughput.ts with the native load generator instead): Kestrel
 * against a Bun floor and memcached, over the memcache text protocol on loopback. The client
 * itself saturates a core, so these ratios flatter Kestrel; it stays for comparison with the
 * figures taken with it before.
 *
 * What it measures
 *   Closed-loop load from one Bun process. P producer connections each send
 *   `set bench 0 0 <size>` with a fixed item and wait for STORED before sending the next; C consumer
 *   connections each send a get and wait for the whole reply (a VALUE block and END, or a bare END
 *   when the queue is empty). Kestrel's consumers use a blocking get, `get bench/t=500`, as queue
 *   consumers do (so a get returns an item, not a miss to poll again); the bun floor's consumers
 *   send the same; memcached's send `get bench`. Scenarios are P+C = 1+1, 10+10 and 50+50. A run
 *   (one target, one scenario) is a warm-up (1 s, not measured), then a measured window. Reported
 *   per run: set ops/s, get ops/s (hits and misses both count; the hit rate is shown), total
 *   ops/s, and p50/p99/max latency in ms (send until the complete reply) for sets and gets
 *   separately, plus the CPU used by the server, by this load generator and by everything else
 *   on the machine ("other CPU", from /proc/stat: a run where it is high shared the cores with
 *   other work, and its numbers are low).
 *
 * Rounds
 *   The machine's speed drifts over minutes, so every target is started once at the beginning
 *   (they idle when not measured) and the runs are made in rounds: in each round, for each
 *   scenario, every target runs back to back, and the target order rotates between rounds so that
 *   no target always goes first. Per (target, scenario) the round with the median total ops/s is
 *   reported, with the min-max over rounds; ratios are computed within each round and the median
 *   per-round ratio is reported with its min-max (see bench/lib/report.ts).
 *
 * Targets (started here, stopped at the end; temp dirs are removed, also on Ctrl-C)
 *   kestrel          src/main.ts on a fresh temp data dir with the default config
 *                    (journal on, sync_journal never)
 *   kestrel always   the same with a config file saying sync_journal = "always"
 *   kestrel 10ms     the same with sync_journal = "10ms"
 *   bun floor        bench/floor_server.ts: Kestrel's own request parser and reply outbox on a Bun
 *                    socket, answering STORED and the last item set, with no queue and no journal. The
 *                    ceiling of this protocol on Bun here: kestrel / bun floor is the cost of the
 *                    queue and the journal.
 *   memcached -t 1   one worker thread, on a free loopback port; installed with apt-get if it is not
 *                    on PATH. `set bench` overwrites one key and `get bench` always hits: it is the
 *                    ceiling of the protocol and loopback, not a queue.
 *   Before each run the key is emptied (`flush bench` / `delete bench`; nothing for the floor);
 *   after it the server's own counters (`stats`) are compared with what the clients saw, and for
 *   Kestrel the items left in the queue must equal sets minus hits. Any mismatch, unexpected reply,
 *   corrupted item, stall (a request unanswered for over 1 s) or dropped connection is listed
 *   under "Problems" with its round.
 *
 * Run
 *   BENCH_CLIENT=bun npm run bench
 *   BENCH_SECONDS=1 BENCH_ROUNDS=2 BENCH_SCENARIOS=1,10 bun bench/throughput_bun.ts
 *
 * Environment
 *   BENCH_SECONDS    measured seconds per run (default 3)
 *   BENCH_ROUNDS     rounds (default 3); the expected total duration is printed at the start
 *   BENCH_SCENARIOS  connections per side, comma-separated (default "1,10,50": 1+1, 10+10, 50+50)
 *   BENCH_ITEM_SIZE  bytes per item (default 1024)
 *   BENCH_GET_WAIT_MS  the t= of Kestrel's blocking gets (default 500; 0 = plain polling gets)
 *   TMPDIR           where the data dirs go; the fsync column depends on that filesystem
 *
 * Output: markdown tables on stdout (how to read them, summary, details, problems), progress on stderr.
 */
import { LoadClient, Run, checkStalls, connectClient, readStats, waitFor } from "./lib/client.ts";
import { KEY, buildRequests, type Requests } from "./lib/protocol.ts";
import { integer, mib, percent, report, rotated, totalRate, type RatioPair, type RunResult, type TargetResults } from "./lib/report.ts";
import { runBench } from "./lib/run_bench.ts";
import { expectedSeconds, formatDuration, readSettings, type Settings } from "./lib/settings.ts";
import { machineBusySeconds, ownCpuSeconds } from "./lib/cpu_time.ts";
import { ensureCommand } from "./lib/apt_install.ts";
import { startFloor, startKestrel, startMemcached, type Target } from "./lib/targets.ts";

const KESTREL = "kestrel";
const KESTREL_ALWAYS = "kestrel always";
const KESTREL_10MS = "kestrel 10ms";
const FLOOR = "bun floor";
const MEMCACHED = "memcached";
const PERCENTILES = [0.5, 0.99, 1];
/** How long to wait for the last in-flight replies after the measured window. */
const DRAIN_TIMEOUT_MS = 10_000;

interface TargetSpec {
  readonly label: string;
  /** One line for "How to read this". */
  readonly about: string;
  /** The key consumers get: Kestrel's blocking get, or the plain key. */
  readonly getKey: string;
  readonly start: () => Promise<Target>;
}

/** A started target with its requests and everything measured on it so far. */
interface Contender {
  readonly spec: TargetSpec;
  readonly target: Target;
  readonly requests: Requests;
  readonly results: TargetResults;
}

function targetSpecs(settings: Settings): TargetSpec[] {
  const queueKey = settings.getWaitMs > 0 ? `${KEY}/t=${settings.getWaitMs}` : KEY;
  const getNote = `consumers send \`get ${queueKey}\``;
  return [
    { label: KESTREL, about: `this server, default config (journal on, sync_journal never); ${getNote}`, getKey: queueKey, start: () => startKestrel(KESTREL, null) },
    {
      label: KESTREL_ALWAYS,
      about: `the same with sync_journal = "always" (every reply waits for the fsync of its group commit)`,
      getKey: queueKey,
      start: () => startKestrel(KESTREL_ALWAYS, 'sync_journal = "always"\n'),
    },
    {
      label: KESTREL_10MS,
      about: `the same with sync_journal = "10ms" (fsync at most 10 ms after a write; replies don't wait for it)`,
      getKey: queueKey,
      start: () => startKestrel(KESTREL_10MS, 'sync_journal = "10ms"\n'),
    },
    {
      label: FLOOR,
      about:
        `bench/floor_server.ts, Kestrel's own request parser and reply outbox on a Bun socket answering every set STORED and every get with the last item set, with no queue and no journal; ` +
        `the ceiling of this protocol on Bun on this machine, so kestrel / bun floor isolates the cost of the queue and the journal; ${getNote}`,
      getKey: queueKey,
      start: () => startFloor(FLOOR),
    },
    {
      label: MEMCACHED,
      about: `\`memcached -t 1\` (one worker thread), a cache where \`set ${KEY}\` overwrites one key and \`get ${KEY}\` always hits: the ceiling of the protocol and loopback in C, not a queue`,
      getKey: KEY,
      start: () => startMemcached(MEMCACHED),
    },
  ];
}

const RATIOS: readonly RatioPair[] = [
  [KESTREL, MEMCACHED],
  [KESTREL, FLOOR],
  [FLOOR, MEMCACHED],
  [KESTREL_ALWAYS, KESTREL],
  [KESTREL_10MS, KESTREL],
];

// ---------------------------------------------------------------------------------------------
// One run: one target, one scenario, one round

async function measure(target: Target, connections: number, round: number, settings: Settings, requests: Requests): Promise<RunResult> {
  await target.reset();
  const statsBefore = await readStats(target.port);
  const run = new Run();
  const clients = await openClients(target.port, connections, requests, run);
  const watchdog = setInterval(() => checkStalls(clients, run), 100);
  try {
    for (const client of clients) client.send();
    await Bun.sleep(settings.warmupMs);

    run.phase = "measure";
    const start = cpuSnapshot(target);
    await Bun.sleep(settings.seconds * 1000);
    run.phase = "drain";
    const { seconds, serverCpu, benchCpu, otherCpu } = cpuUse(start, cpuSnapshot(target));

    const drained = await drain(clients, run);
    const notes = drained ? await checkCounters(target, statsBefore, run) : [];
    return {
      round,
      connections,
      seconds,
      sets: run.setLatency.length,
      gets: run.getLatency.length,
      hits: run.hits,
      setMs: run.setLatency.percentiles(PERCENTILES),
      getMs: run.getLatency.percentiles(PERCENTILES),
      serverCpu,
      benchCpu,
      otherCpu,
      problems: run.problems,
      notes,
    };
  } finally {
    clearInterval(watchdog);
    for (const client of clients) client.socket?.end();
  }
}

/** `connections` producers and as many consumers, connected (and closed by the caller). */
async function openClients(port: number, connections: number, requests: Requests, run: Run): Promise<LoadClient[]> {
  const clients: LoadClient[] = [];
  for (let i = 0; i < connections; i++) {
    clients.push(new LoadClient("set", requests.set, requests.valueBlock, run));
    clients.push(new LoadClient("get", requests.get, requests.valueBlock, run));
  }
  await Promise.all(clients.map((client) => connectClient(port, client)));
  return clients;
}

interface CpuSnapshot {
  readonly at: number;
  readonly server: number;
  readonly bench: number;
  readonly machine: number;
}

function cpuSnapshot(target: Target): CpuSnapshot {
  return { at: performance.now(), server: target.cpuSeconds(), bench: ownCpuSeconds(), machine: machineBusySeconds() };
}

/** The window's length and CPU use (fractions of one core) by the server, this process and everything else. */
function cpuUse(start: CpuSnapshot, end: CpuSnapshot): { seconds: number; serverCpu: number; benchCpu: number; otherCpu: number } {
  const seconds = (end.at - start.at) / 1000;
  const server = end.server - start.server;
  const bench = end.bench - start.bench;
  const other = Math.max(0, end.machine - start.machine - server - bench);
  return { seconds, serverCpu: server / seconds, benchCpu: bench / seconds, otherCpu: other / seconds };
}

/** Waits for the replies still in flight after the window; false (and a problem) if some never come. */
async function drain(clients: readonly LoadClient[], run: Run): Promise<boolean> {
  const drained = await waitFor("replies", DRAIN_TIMEOUT_MS, () => (clients.some((client) => client.busy) ? null : true)).catch(() => false);
  if (!drained) {
    const stuck = clients.filter((client) => client.busy);
    const sets = stuck.filter((client) => client.role === "set").length;
    run.problem(`${stuck.length} requests (${sets} set, ${stuck.length - sets} get) still unanswered ${DRAIN_TIMEOUT_MS / 1000} s after the window`);
  }
  return drained;
}

/** Compares the server's counters with what the clients saw; returns notes, adds problems. */
async function checkCounters(target: Target, before: Map<string, number>, run: Run): Promise<string[]> {
  const after = await readStats(target.port);
  const delta = (name: string) => (after.get(name) ?? NaN) - (before.get(name) ?? NaN);
  const expected: Array<[string, number]> = [
    ["cmd_set", run.all.sets],
    ["get_hits", run.all.hits],
    ["get_misses", run.all.misses],
  ];
  for (const [name, seen] of expected) {
    if (delta(name) !== seen) run.problem(`server counted ${name} +${delta(name)}, clients got ${seen} such replies`);
  }
  if (!target.isQueue) return [];
  const left = after.get(`queue_${KEY}_items`) ?? after.get("curr_items") ?? NaN;
  if (left !== run.all.sets - run.all.hits) {
    run.problem(`queue holds ${left} items after the run; sets - hits = ${run.all.sets - run.all.hits} (items lost or duplicated)`);
  }
  const notes = [`${left} items left in the queue`];
  const journal = after.get(`queue_${KEY}_logsize`);
  if (journal !== undefined) notes.push(`journal ${mib(journal)}`);
  return notes;
}

// ---------------------------------------------------------------------------------------------
// Rounds

async function runRound(contenders: readonly Contender[], round: number, settings: Settings): Promise<void> {
  const order = rotated(contenders, round);
  console.error(`round ${round}/${settings.rounds}: ${order.map((c) => c.spec.label).join(", ")}`);
  for (const [i, n] of settings.scenarios.entries()) {
    for (const contender of order) {
      const result = await measure(contender.target, n, round, settings, contender.requests);
      (contender.results.runs[i] ??= []).push(result);
      logRun(contender.spec.label, result);
    }
  }
}

function logRun(label: string, result: RunResult): void {
  const problems = result.problems.size > 0 ? `; ${result.problems.size} kinds of problem` : "";
  const notes = result.notes.map((note) => `, ${note}`).join("");
  const cpu = `CPU server ${percent(result.serverCpu)}, bench ${percent(result.benchCpu)}, other ${percent(result.otherCpu)}`;
  console.error(`  ${result.connections}+${result.connections} ${label}: ${integer(totalRate(result))} ops/s (${cpu})${notes}${problems}`);
}

async function startAll(specs: readonly TargetSpec[], settings: Settings): Promise<Contender[]> {
  const contenders: Contender[] = [];
  for (const spec of specs) {
    const target = await spec.start();
    console.error(`started ${spec.label} on port ${target.port}`);
    const results: TargetResults = { label: spec.label, runs: [], problems: [] };
    contenders.push({ spec, target, requests: buildRequests(settings.itemSize, spec.getKey), results });
  }
  return contenders;
}

/** Stops every target, recording its notable log lines and any trouble stopping it. */
async function stopAll(contenders: readonly Contender[]): Promise<void> {
  for (const { target, results } of contenders) {
    for (const line of target.notableOutput()) results.problems.push(`server log: ${line}`);
    results.problems.push(...(await target.stop()));
  }
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const settings = readSettings(process.env);
  ensureCommand("memcached", "memcached");
  const specs = targetSpecs(settings);
  const began = performance.now();
  console.error(
    `${specs.length} targets x ${settings.scenarios.length} scenarios x ${settings.rounds} rounds, ` +
      `${settings.warmupMs / 1000} s warm-up + ${settings.seconds} s per run: expect about ${formatDuration(expectedSeconds(settings, specs.length))}`,
  );
  const contenders = await startAll(specs, settings);
  try {
    for (let round = 1; round <= settings.rounds; round++) await runRound(contenders, round, settings);
  } finally {
    await stopAll(contenders);
  }
  console.error(`done in ${formatDuration((performance.now() - began) / 1000)}`);
  const results = contenders.map((c) => c.results);
  console.log(report({ settings, results, ratios: RATIOS, about: specs.map((s) => ({ label: s.label, text: s.about })) }));
}

await runBench(main, "stopping servers");
