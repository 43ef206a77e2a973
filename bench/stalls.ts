/**
 * Stall benchmark: the longest time Kestrel leaves a client waiting while it does something big,
 * as seen by a ping every 5 ms.
 *
 * The probe (bench/lib/ping.ts)
 *   One connection from this process sends `get ping_nothing` (an empty queue: the reply is END)
 *   on a 5 ms beat, one ping in flight at a time; a ping due while the last is unanswered is not
 *   sent. A ping's gap runs from when it was due to when its reply arrived, so a server that
 *   stops serving for 500 ms shows a 500 ms gap. All heavy load (fills, floods, drains, the big
 *   set) comes from a separate load process (bench/lib/load_process.ts, under `nice`), so this
 *   process does nothing but keep the beat; how late its own timer fired is reported beside the
 *   gaps, and a warning is printed when it was late (a busy machine), since gaps then include it.
 *
 * Scenarios (bench/lib/stall_scenarios.ts; each on a fresh server on loopback, port 0, in a temp
 * dir, its log going to a file there; items of BENCH_ITEM_SIZE bytes; after each, the server's
 * state is checked)
 *   1  journal upkeep: BENCH_ITEMS items in memory (max_memory_size 1GiB), server idle, probed
 *      BENCH_SECONDS (the upkeep runs once a second).
 *   2  sets under load: the same, then BENCH_CONNECTIONS connections pipelining BENCH_BATCH sets
 *      per write for BENCH_SECONDS (the memory pacer's collections); sets/s and collections.
 *   3a expiry sweep: BENCH_ITEMS items that all expire at the same second, timer every 1 s;
 *      probed from 0.5 s before that second until the queue is empty, plus 1 s.
 *   3b the same with move_expired_to pointing at a full queue (max_items = 1): every expired item
 *      is refused there and the WARN lines the server logs are counted.
 *   4  one BENCH_BIG_ITEM_MIB MiB set to a parent with 10 fanout children (created by a get each).
 *   5  BENCH_FANOUT_SETS sets to a parent with BENCH_FANOUT_CHILDREN fanout children; total time.
 *   6  replay at start: BENCH_REPLAY_ITEMS items (default max_memory_size), SIGTERM, a new server
 *      on the same dir: spawn to `listening` from the server's log, its replay line (either
 *      format), and a raw read of the same files for comparison; probed 2 s once listening.
 *   7  max_memory_size raised from 16MiB to 1GiB by `reload` with BENCH_ITEMS items waiting on
 *      disk; probed 1 s before the reload to BENCH_SECONDS after.
 *   8  drain of BENCH_ITEMS items with reliable reads (`get q/open` + `get q/close` pipelined).
 *   9a 20 pipelined `flush_expired` over BENCH_ITEMS items, none expired (each looks at them all).
 *   9b one `flush_expired` of BENCH_ITEMS items that all expired (no periodic sweep).
 *   10a BENCH_BLOCKED_CLIENTS clients blocked in `get q/peek/t=60000` on one queue, all woken by
 *      one set (bench/lib/stall_crowds.ts); probed from 1 s before the set to 0.5 s after the
 *      last wait ended (the clients close their connections after that).
 *   10b as many clients sending `get q/t=3000` at once on an empty queue: their waits end together;
 *      probed from when all wait to 0.5 s after the last wait ended.
 *   11 dropping BENCH_ITEMS items at once, probed 0.5 s before to 2 s after; then a set and two
 *      gets must see only the new item: 11a `flush q` with most items on disk (max_memory_size
 *      16MiB), 11b `flush q` with all in memory, 11c `delete q` with most on disk, 11d `flush_all`
 *      with all in memory.
 *   12 queue_path deleted (rm -rf) under BENCH_REBUILD_QUEUES queues of BENCH_REBUILD_ITEMS items
 *      each (bench/lib/stall_rebuild.ts): the upkeep rebuilds every journal from its queue; probed
 *      from 1 s before the delete to 1 s after every journal is back, the figure how long that
 *      took; then every queue must hold its items, and again after a restart.
 *
 * Run
 *   npm run bench:stalls                         # 3-4 minutes here
 *   BENCH_ITEMS=100000 BENCH_FANOUT_SETS=1000 npm run bench:stalls   # a smoke run, about a minute
 *   BENCH_SCENARIOS=1,6 npm run bench:stalls     # some scenarios only
 *
 * Environment
 *   BENCH_ITEMS            items queued in scenarios 1-3, 7-9, 11 (default 1000000)
 *   BENCH_REPLAY_ITEMS     items replayed in scenario 6 (default 3 x BENCH_ITEMS)
 *   BENCH_ITEM_SIZE        bytes per small item (default 100)
 *   BENCH_SECONDS          probe window of the idle and timed scenarios (default 5)
 *   BENCH_CONNECTIONS      load connections (default 4)
 *   BENCH_BATCH            requests per pipelined write (default 100)
 *   BENCH_BIG_ITEM_MIB     the big set of scenario 4, MiB (default 64)
 *   BENCH_FANOUT_CHILDREN  fanout children in scenario 5 (default 500)
 *   BENCH_FANOUT_SETS      sets in scenario 5 (default 10000)
 *   BENCH_BLOCKED_CLIENTS  blocked clients in scenario 10 (default 5000; a file descriptor each, here and in the server)
 *   BENCH_REBUILD_QUEUES   queues in scenario 12 (default 3000)
 *   BENCH_REBUILD_ITEMS    items in each of them (default 3)
 *   BENCH_STALL_MS         a gap longer than this counts as a stall (default 20)
 *   BENCH_SCENARIOS        which scenarios, comma-separated (default 1,2,3,4,5,6,7,8,9,10,11,12)
 *   BENCH_SERVER           a kestrel executable to measure, e.g. dist/kestrel (default: src/main.ts on this bun)
 *   TMPDIR                 where the data dirs go (about 1 GB at the defaults)
 *
 * Output: a markdown table on stdout (one row per scenario), the WARN lines the servers logged,
 * and "Problems" (failed checks, ERROR or crash lines, a late probe timer); progress on stderr.
 */
import { tmpdir } from "node:os";
import { serverCommand } from "./lib/kestrel_child.ts";
import { PING_INTERVAL_MS, PING_QUEUE } from "./lib/ping.ts";
import { MiB, integer, machine, table } from "./lib/report.ts";
import { runBench } from "./lib/run_bench.ts";
import { integerListSetting, integerSetting } from "./lib/settings.ts";
import { type Pace, SCENARIOS, type StallSettings } from "./lib/stall_scenarios.ts";
import { type StallRow, progress } from "./lib/stall_scene.ts";

/** The probe's own timer later than this makes its gaps suspect. */
const LATE_TIMER_MS = PING_INTERVAL_MS;
const ms = (value: number | undefined): string => (value === undefined ? "-" : value.toFixed(1));
/** Fill speed assumed before any fill was timed. */
const FIRST_PACE_SETS_PER_SECOND = 50_000;

interface Settings extends StallSettings {
  readonly scenarios: readonly number[];
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const positive = (name: string, fallback: number) => integerSetting(env, name, fallback, "a positive integer", 1);
  const items = positive("BENCH_ITEMS", 1_000_000);
  const ids = SCENARIOS.map((scenario) => scenario.id);
  return {
    items,
    replayItems: positive("BENCH_REPLAY_ITEMS", 3 * items),
    itemSize: positive("BENCH_ITEM_SIZE", 100),
    seconds: positive("BENCH_SECONDS", 5),
    connections: positive("BENCH_CONNECTIONS", 4),
    batch: positive("BENCH_BATCH", 100),
    bigItemBytes: positive("BENCH_BIG_ITEM_MIB", 64) * MiB,
    bigChildren: 10,
    wideChildren: positive("BENCH_FANOUT_CHILDREN", 500),
    wideSets: positive("BENCH_FANOUT_SETS", 10_000),
    blockedClients: positive("BENCH_BLOCKED_CLIENTS", 5000),
    rebuildQueues: positive("BENCH_REBUILD_QUEUES", 3000),
    rebuildItems: positive("BENCH_REBUILD_ITEMS", 3),
    stallMs: positive("BENCH_STALL_MS", 20),
    scenarios: integerListSetting(env, "BENCH_SCENARIOS", ids.join(","), `scenario numbers from ${ids.join(",")}`, 1, ids.length),
    server: serverCommand(env.BENCH_SERVER),
  };
}

function stallTable(rows: readonly StallRow[], settings: Settings): string {
  const header = ["#", "scenario", "what was done", "pings sent", "worst gap ms", "p99 ms", `gaps > ${settings.stallMs} ms`, "scenario figure", "probe timer late, max ms"];
  const cells = rows.map((row) => {
    const p = row.ping;
    const late = p === null ? "-" : `${ms(p.worstLatenessMs)}${p.worstLatenessMs > LATE_TIMER_MS ? " (!)" : ""}`;
    return [row.id, row.scenario, row.done, p === null ? "-" : integer(p.sent), ms(p?.worstGapMs), ms(p?.p99GapMs), p === null ? "-" : integer(p.overLimit), row.figure, late];
  });
  return table(header, cells);
}

function warningList(rows: readonly StallRow[]): string {
  const lines = rows.flatMap((row) => Array.from(row.warnings, ([kind, count]) => `- ${row.id}: ${kind} (x${integer(count)})`));
  return lines.length === 0 ? "None." : lines.join("\n");
}

function problemList(rows: readonly StallRow[]): string {
  const lines = rows.flatMap((row) => {
    const late = row.ping !== null && row.ping.worstLatenessMs > LATE_TIMER_MS ? [lateTimerWarning(row.ping.worstLatenessMs)] : [];
    return [...row.problems, ...late].map((problem) => `- ${row.id}: ${problem}`);
  });
  return lines.length === 0 ? "None." : lines.join("\n");
}

function lateTimerWarning(lateMs: number): string {
  return `this process's own probe timer fired up to ${lateMs.toFixed(1)} ms late (the machine was busy): gaps may be overstated by as much`;
}

function report(rows: readonly StallRow[], settings: Settings): string {
  return [
    `# Stalls: the longest wait of a client, by scenario\n`,
    `Machine: ${machine()}. Server: ${settings.server.join(" ")}; data dirs under ${tmpdir()}.`,
    `Probe: \`get ${PING_QUEUE}\` every ${PING_INTERVAL_MS} ms on one connection, one in flight; a gap is from when a ping was due to its reply. ` +
      `Load from a separate process: ${settings.connections} connections × ${settings.batch} pipelined requests, items of ${settings.itemSize} bytes.\n`,
    `${stallTable(rows, settings)}\n`,
    `"probe timer late" is how late this process's own 5 ms timer fired at worst: gaps include it, so a row marked (!) was measured on a busy machine.\n`,
    `## Server log: WARN lines\n`,
    `${warningList(rows)}\n`,
    `## Problems\n`,
    problemList(rows),
  ].join("\n");
}

async function main(): Promise<void> {
  const settings = readSettings(process.env);
  const began = performance.now();
  const pace: Pace = { setsPerSecond: FIRST_PACE_SETS_PER_SECOND };
  const rows: StallRow[] = [];
  for (const scenario of SCENARIOS.filter((s) => settings.scenarios.includes(s.id))) {
    for (const row of await scenario.run(settings, pace)) {
      if (row.ping !== null && row.ping.worstLatenessMs > LATE_TIMER_MS) progress(`  warning: ${lateTimerWarning(row.ping.worstLatenessMs)}`);
      rows.push(row);
    }
  }
  progress(`done in ${((performance.now() - began) / 1000).toFixed(0)} s`);
  console.log(report(rows, settings));
}

await runBench(main, "stopping the servers and the load, removing the data dirs");
