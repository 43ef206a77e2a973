/**
 * Throughput benchmark (`npm run bench`): this server against memcached, Redis, beanstalkd and a
 * Bun floor, driven by the native load generator (bench/loadgen/loadgen.c, built here with `cc`
 * on first use) so that the client is not the bottleneck it measures. `BENCH_CLIENT=bun` runs the
 * older Bun-client benchmark instead (bench/throughput_bun.ts).
 *
 * What it measures
 *   Per run (one target, one scenario, one round) the generator opens P producer and C consumer
 *   connections and runs them in a closed loop: a producer writes a batch of puts (1, or N with
 *   `pipeN`) and waits for their acknowledgements, a consumer sends a take and waits for the item.
 *   A warm-up (1 s) is not measured; then a measured window; then, on a queue, the consumers drain
 *   the queues so that every acknowledged item is accounted for. Reported: items/s produced and
 *   consumed, misses, latency p50/p99/p99.9/max per side, the generator's CPU, the server's and
 *   the rest of the machine's. The generator checks every reply and every item (a sequence number
 *   and length in each; on a queue: order, no repeat, no loss); any fault is listed under Problems.
 *   Scenarios are named by their load (bench/lib/scenarios.ts): `10+10`, `50+50/reliable`,
 *   `10+10/pipe16`, `50+50/q100`, `10+10/64k`; each run uses fresh queues, dropped after it.
 *
 * Targets (started once, stopped at the end; temp dirs removed, also on Ctrl-C)
 *   kestrel          src/main.ts, default config (journal written before each reply, no fsync);
 *                    consumers `get q/t=500` (reliable: `get q/close/open/t=500`)
 *   kestrel always   the same with sync_journal = "always" (a reply waits for the fsync)
 *   memcached        `memcached -t 1`: `set q` overwrites a key, `get q` returns it; a cache, the
 *                    ceiling of the protocol in C, checked as a cache (item form only)
 *   redis everysec   redis-server, appendonly yes, appendfsync everysec: LPUSH / BRPOP q 0.5
 *   redis always     the same with appendfsync always
 *   beanstalkd       beanstalkd -b <temp dir> (binlog, fsync at most every 50 ms): put /
 *                    reserve-with-timeout 1 / delete (sent with the next reserve)
 *   bun floor        bench/floor_server.ts: Kestrel's parser and outbox on Bun, no queue, no journal
 *   Servers missing from PATH are installed with apt-get. Reliable-read scenarios run on kestrel,
 *   kestrel always and the floor only.
 *
 * Rounds
 *   In every round each scenario runs on every target back to back, the target order rotating
 *   from round to round; figures are from the median round, ratios are taken within a round (see
 *   bench/lib/loadgen_report.ts).
 *
 * Run
 *   npm run bench                                              # all of it: the time is printed first
 *   BENCH_SECONDS=1 BENCH_ROUNDS=1 BENCH_SCENARIOS=10+10,50+50/reliable BENCH_TARGETS=kestrel,memcached npm run bench
 *
 * Environment
 *   BENCH_SECONDS         measured seconds per run (default 3)
 *   BENCH_ITEMS           measure until this many items were produced and consumed (instead of seconds)
 *   BENCH_WARMUP_SECONDS  unmeasured load before each window (default 1)
 *   BENCH_ROUNDS          rounds (default 3)
 *   BENCH_SCENARIOS       scenario names, comma- or space-separated (default: bench/lib/scenarios.ts)
 *   BENCH_TARGETS         target labels, comma-separated (default: all)
 *   BENCH_THREADS         load-generator threads (default 1)
 *   BENCH_GET_WAIT_MS     how long a take waits for an item on a queue (default 500)
 *   BENCH_SVG             where the chart goes (default docs/performance.svg; empty: none)
 *   BENCH_CLIENT          native (default) or bun
 *   TMPDIR                where the data dirs go; the fsync figures depend on that filesystem
 *
 * Output: markdown tables on stdout, progress on stderr, the chart in BENCH_SVG.
 */
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { ensureCommand } from "./lib/apt_install.ts";
import { machineBusySeconds, ownCpuSeconds } from "./lib/cpu_time.ts";
import { ensureLoadgen, problemsOf, queueNames, runLoadgen } from "./lib/loadgen.ts";
import { chart, generatorCpu, itemsPerSecond, report, type MeasuredRun, type RatioSpec } from "./lib/loadgen_report.ts";
import { expectedLoadgenSeconds, readLoadgenSettings, type LoadgenSettings } from "./lib/loadgen_settings.ts";
import { integer, machine, percent, rotated } from "./lib/report.ts";
import { runBench } from "./lib/run_bench.ts";
import type { Scenario } from "./lib/scenarios.ts";
import { formatDuration, SettingsError } from "./lib/settings.ts";
import { barChartSvg } from "./lib/svg_chart.ts";
import { startBeanstalkd, startFloor, startKestrel, startMemcached, startRedis, type Target, type TargetProtocol } from "./lib/targets.ts";

interface TargetSpec {
  readonly label: string;
  /** One line for "How to read this". */
  readonly about: string;
  readonly protocol: TargetProtocol;
  /** A queue (checked for order, repeats and loss) or a cache (item form only). */
  readonly check: "queue" | "cache";
  /** Its takes wait for an item (t=, BRPOP, reserve-with-timeout); a cache's return at once. */
  readonly waits: boolean;
  /** It runs the reliable-read scenarios. */
  readonly reliable: boolean;
  /** The command it needs and the apt package that has it. */
  readonly needs: readonly [string, string] | null;
  readonly start: () => Promise<Target>;
}

const TARGETS: readonly TargetSpec[] = [
  kestrel("kestrel", null, "this server, default config: the journal is written before each reply, not fsynced"),
  kestrel("kestrel always", 'sync_journal = "always"\n', 'the same with sync_journal = "always": a reply waits for the fsync of its group commit'),
  {
    label: "memcached",
    about: "`memcached -t 1`, a cache: `set` overwrites a key and `get` returns it, nothing on disk; the ceiling of the protocol in C",
    protocol: "memcache",
    check: "cache",
    waits: false,
    reliable: false,
    needs: ["memcached", "memcached"],
    start: () => startMemcached("memcached"),
  },
  redis("everysec", "the AOF written before each reply and fsynced once a second"),
  redis("always", "the AOF fsynced before each reply (group commit)"),
  {
    label: "beanstalkd",
    about: "`beanstalkd -b`, its binlog fsynced at most every 50 ms: put, reserve-with-timeout, delete",
    protocol: "beanstalk",
    check: "queue",
    waits: true,
    reliable: false,
    needs: ["beanstalkd", "beanstalkd"],
    start: () => startBeanstalkd("beanstalkd"),
  },
  {
    label: "bun floor",
    about: "bench/floor_server.ts, Kestrel's own parser and outbox on a Bun socket keeping the last item per queue, no queue logic, no journal: kestrel / bun floor is the cost of the queue and the journal",
    protocol: "memcache",
    check: "cache",
    waits: true,
    reliable: true,
    needs: null,
    start: () => startFloor("bun floor"),
  },
];

function kestrel(label: string, config: string | null, about: string): TargetSpec {
  return { label, about, protocol: "memcache", check: "queue", waits: true, reliable: true, needs: null, start: () => startKestrel(label, config) };
}

function redis(sync: "everysec" | "always", what: string): TargetSpec {
  const label = `redis ${sync}`;
  const about = `\`redis-server --appendonly yes --appendfsync ${sync}\`, ${what}: LPUSH, BRPOP`;
  return { label, about, protocol: "redis", check: "queue", waits: true, reliable: false, needs: ["redis-server", "redis-server"], start: () => startRedis(label, sync) };
}

const RATIOS: readonly RatioSpec[] = [
  { label: "kestrel / memcached", numerator: "kestrel", denominator: "memcached" },
  { label: "kestrel / redis everysec", numerator: "kestrel", denominator: "redis everysec" },
  { label: "kestrel always / redis always", numerator: "kestrel always", denominator: "redis always" },
  { label: "kestrel / bun floor", numerator: "kestrel", denominator: "bun floor" },
  { label: "kestrel reliable / plain", numerator: "kestrel", denominator: "kestrel", againstPlainTwin: true },
];

/** A started target with what it is. */
interface Contender {
  readonly spec: TargetSpec;
  readonly target: Target;
}

const runsScenario = (spec: TargetSpec, scenario: Scenario): boolean => spec.reliable || !scenario.reliable;

async function measure(contender: Contender, scenario: Scenario, round: number, settings: LoadgenSettings, binary: string): Promise<MeasuredRun> {
  const { spec, target } = contender;
  const queuePrefix = `lg_r${round}_${settings.scenarios.indexOf(scenario)}`;
  const before = { server: target.cpuSeconds(), machine: machineBusySeconds(), own: ownCpuSeconds(), at: performance.now() };
  const { producers, consumers, queues, itemSize, pipeline, reliable } = scenario;
  const run = await runLoadgen(binary, {
    port: target.port,
    protocol: spec.protocol,
    check: spec.check,
    waitMs: spec.waits ? settings.waitMs : 0,
    producers,
    consumers,
    queues,
    queuePrefix,
    itemSize,
    pipeline,
    reliable,
    window: settings.window,
    warmupSeconds: settings.warmupSeconds,
    threads: settings.threads,
  });
  const seconds = (performance.now() - before.at) / 1000;
  const server = target.cpuSeconds() - before.server;
  const other = machineBusySeconds() - before.machine - server - run.cpuSeconds - (ownCpuSeconds() - before.own);
  await target.dropQueues(queueNames(queuePrefix, scenario.queues));
  const problems = problemsOf(run.result, { queue: spec.check === "queue", producers: scenario.producers, consumers: scenario.consumers });
  return { round, scenario: scenario.name, target: spec.label, result: run.result, serverCpu: server / seconds, otherCpu: Math.max(0, other) / seconds, problems };
}

async function runRound(contenders: readonly Contender[], round: number, settings: LoadgenSettings, binary: string): Promise<MeasuredRun[]> {
  const order = rotated(contenders, round);
  console.error(`round ${round}/${settings.rounds}: ${order.map((c) => c.spec.label).join(", ")}`);
  const runs: MeasuredRun[] = [];
  for (const scenario of settings.scenarios) {
    for (const contender of order.filter((c) => runsScenario(c.spec, scenario))) {
      const run = await measure(contender, scenario, round, settings, binary);
      runs.push(run);
      const r = run.result;
      const cpu = `CPU generator ${percent(generatorCpu(r))}, server ${percent(run.serverCpu)}, other ${percent(run.otherCpu)}`;
      const problems = run.problems.length > 0 ? `; PROBLEMS: ${run.problems.join("; ")}` : "";
      console.error(`  ${scenario.name} ${contender.spec.label}: ${integer(itemsPerSecond(r))} items/s (${cpu})${problems}`);
    }
  }
  return runs;
}

async function startAll(specs: readonly TargetSpec[]): Promise<Contender[]> {
  const contenders: Contender[] = [];
  for (const spec of specs) {
    const target = await spec.start();
    console.error(`started ${spec.label} on port ${target.port}`);
    contenders.push({ spec, target });
  }
  return contenders;
}

/** Stops every target; returns per target its notable log lines and any trouble stopping it. */
async function stopAll(contenders: readonly Contender[]): Promise<Map<string, string[]>> {
  const problems = new Map<string, string[]>();
  for (const { spec, target } of contenders) {
    const lines = [...target.notableOutput().map((line) => `server log: ${line}`), ...(await target.stop())];
    if (lines.length > 0) problems.set(spec.label, lines);
  }
  return problems;
}

function describeLoad(settings: LoadgenSettings): string {
  const window = "seconds" in settings.window ? `${settings.window.seconds} s measured` : `a window of ${settings.window.items} items`;
  return (
    `Load: closed loop over loopback TCP, ${settings.warmupSeconds} s warm-up + ${window} per run, ${settings.rounds} round${settings.rounds === 1 ? "" : "s"}, ` +
    `takes waiting up to ${settings.waitMs} ms on queues, native load generator with ${settings.threads} thread${settings.threads === 1 ? "" : "s"}.`
  );
}

async function main(): Promise<void> {
  const settings = readLoadgenSettings(process.env, TARGETS.map((spec) => spec.label));
  const specs = TARGETS.filter((spec) => settings.targets.includes(spec.label));
  if (!settings.scenarios.some((scenario) => specs.some((spec) => runsScenario(spec, scenario)))) {
    throw new SettingsError("BENCH_SCENARIOS and BENCH_TARGETS: no target runs any of the scenarios (reliable reads are Kestrel's)");
  }
  for (const spec of specs) if (spec.needs !== null) ensureCommand(...spec.needs);
  const binary = ensureLoadgen();
  const runsPerRound = settings.scenarios.reduce((sum, scenario) => sum + specs.filter((spec) => runsScenario(spec, scenario)).length, 0);
  console.error(`${runsPerRound} runs per round x ${settings.rounds} rounds on ${cpus().length} cores: expect about ${formatDuration(expectedLoadgenSeconds(settings, runsPerRound))}`);
  const began = performance.now();
  const contenders = await startAll(specs);
  const runs: MeasuredRun[] = [];
  let targetProblems = new Map<string, string[]>();
  try {
    for (let round = 1; round <= settings.rounds; round++) runs.push(...(await runRound(contenders, round, settings, binary)));
  } finally {
    targetProblems = await stopAll(contenders);
  }
  console.error(`done in ${formatDuration((performance.now() - began) / 1000)}`);
  const input = {
    title: "Queue throughput: Kestrel, memcached, Redis, beanstalkd and a Bun floor",
    setting: [`Machine: ${machine()}, ${new Date().toISOString().slice(0, 10)}.`, describeLoad(settings)],
    about: specs.map((spec) => ({ label: spec.label, text: spec.about })),
    scenarios: settings.scenarios,
    rounds: settings.rounds,
    runs,
    ratios: RATIOS.filter((spec) => settings.targets.includes(spec.numerator) && settings.targets.includes(spec.denominator)),
    targetProblems,
  };
  console.log(report(input));
  if (settings.svgPath !== null) {
    writeFileSync(settings.svgPath, barChartSvg(chart(input)));
    console.error(`wrote ${settings.svgPath}`);
  }
}

if (process.env.BENCH_CLIENT === "bun") await import("./throughput_bun.ts");
else if (process.env.BENCH_CLIENT === undefined || process.env.BENCH_CLIENT === "native") await runBench(main, "stopping servers");
else {
  console.error(`bench failed: BENCH_CLIENT: expected native or bun, got "${process.env.BENCH_CLIENT}"`);
  process.exit(1);
}
