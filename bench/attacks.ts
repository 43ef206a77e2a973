/**
 * Attack benchmark: replays the memory attacks of issue 9 (and ten more) against a real server
 * and checks each against the ceiling the server's documented bounds give it.
 *
 * Each attack runs on its own fresh server (src/main.ts on this bun, 127.0.0.1, port 0, a temp
 * data dir): the server's RSS is read just before the attack (VmRSS), its peak during the attack
 * (VmHWM, reset when the attack starts) and its RSS 3 s after the attack is over. A separate
 * process (bench/probe.ts) watches throughout: a 5 ms ping (`get ping_nothing`, bench/lib/ping.ts)
 * on a connection opened before the attack, whose worst gap must stay within 20 ms, and a
 * `version` on a fresh connection every 100 ms, each to be answered within 1 s. Afterwards a set/get round trip of 10 KiB must come back intact, plus each
 * attack's own checks. The ceilings are built in bench/lib/attack_bounds.ts from the server's
 * settings (e.g. before + max_pending_request_bytes + connections x 128 KiB).
 *
 *   1. big sets, stalled     40 connections each send 60 MiB of a 64 MiB set, then stall
 *   2. unread gets           4 connections that never read pipeline `get rb rb ...` (400 keys) over
 *                            400 items of 1 MiB kept mostly on disk (max_memory_size = 16MiB)
 *   3. new names             gets of 15,000 new queue names, 100 per get (and one of 150: CLIENT_ERROR),
 *                            then a delete of each; RSS and open files after each step
 *   4. timed-out gets        400,000 `get q/t=1` on an empty queue, pipelined over 16 connections
 *   5. many queues           5,000 queues of 3 small items: RSS and open files once idle, restart time
 *   6. fanout                500 fanout children made by `get parent+cN`, then 10,000 sets to the parent
 *   7. idle connections      19,500 idle connections (the file limits raised with prlimit if need be)
 *   8. open items            300 connections each hold an open reliable read of a 1 MiB item read
 *                            back from disk, and never close it (not in the issue)
 *   9. budget squatting      4 connections send only the header of a 64 MiB set each, then a 1 MiB
 *                            set from another client (not in the issue)
 *  10. slowloris             5,000 connections each send most of an 8 KiB request line and trickle the
 *                            rest, never finishing it; one line over the limit (not in the issue)
 *  11. unread multi-gets     200 connections never read, each pipelines 10 get lines of 4,000 keys
 *                            over 40,000 items of 4 KiB (not in the issue)
 *  12. endless queues        sets to 20,000 new names with max_queues = 10,000: the rest refused
 *                            (not in the issue)
 *  13. admin reports         50 clients send `GET /stats.json` or `GET /metrics` to the admin port at
 *                            once, over 20,000 idle queues; half never read their replies, twice
 *                            (not in the issue)
 *  14. small items kept      rounds of 64 KiB of 100-byte sets to a queue that keeps 10 and a 1-byte set
 *                            to one that keeps them all, 8,000 times (found by a probe, not in the issue)
 *  15. open items pin slabs  the same rounds, each 1-byte item opened at once and never closed
 *                            (not in the issue)
 *  16. empty items           10,000,000 `set q 0 0 0 noreply` pipelined on one connection (found by
 *                            a probe, not in the issue)
 *  17. wide fanout flood     10 s of `set wide 0 0 10 noreply` pipelined to a parent with 1,001
 *                            fanout children (found by a probe, not in the issue)
 * The header of each file in bench/attacks/ says what its attack does and what its ceiling is.
 *
 * Run
 *   npm run bench:attacks                       # about 6 minutes; wants about 1 GB of free disk
 *   ATTACK_QUICK=1 npm run bench:attacks        # smaller attacks, about a minute
 *   ATTACK_ONLY=2,8 npm run bench:attacks       # some of them
 *
 * Environment (counts; the quick value in parentheses)
 *   ATTACK_QUICK=1               quick mode
 *   ATTACK_ONLY                  the attacks to run, by number (default all)
 *   ATTACK_BIG_SETS              1: connections (40; 10)          ATTACK_BIG_SET_MIB  MiB each sends (60)
 *   ATTACK_UNREAD_GETS           2: connections (4; 2)            ATTACK_UNREAD_ITEMS items of 1 MiB (400; 100)
 *   ATTACK_NEW_NAMES             3: queue names (15000; 3000)
 *   ATTACK_TIMED_OUT_GETS        4: gets (400000; 40000)          ATTACK_WAIT_CONNECTIONS (16; 8)
 *   ATTACK_QUEUES                5: queues (5000; 1000)
 *   ATTACK_FANOUT_CHILDREN       6: children (500; 100)           ATTACK_FANOUT_SETS  sets (10000; 2000)
 *   ATTACK_IDLE_CONNECTIONS      7: connections (19500; 2000)
 *   ATTACK_OPEN_ITEMS            8: connections (300; 50)
 *   ATTACK_SQUATTERS             9: connections (4)
 *   ATTACK_SLOWLORIS             10: connections (5000; 1000)
 *   ATTACK_MULTI_GETS            11: connections (200; 50)        ATTACK_MULTI_GET_ITEMS items of 4 KiB (40000; 10000)
 *   ATTACK_MAX_QUEUES            12: max_queues (10000; 2000), sets to twice as many names
 *   ATTACK_ADMIN_CLIENTS         13: clients (50; 20)             ATTACK_ADMIN_QUEUES  queues (20000; 5000)
 *   ATTACK_SLAB_ROUNDS           14, 15: rounds (8000; 2000)
 *   ATTACK_EMPTY_ITEMS           16: empty items (10000000; 2000000)
 *   ATTACK_WIDE_FLOOD_SECONDS    17: seconds of sets (10; 3)
 *   TMPDIR                       where the data dirs go
 *
 * Output: a markdown report on stdout (the table, the ceilings' formulas, other bounds, notes,
 * findings), progress on stderr. Exit code 1 when anything is over its bound, unresponsive or
 * incorrect. Temp dirs and servers are removed at the end, on errors and on Ctrl-C.
 */
import { tmpdir } from "node:os";
import { adminReports } from "./attacks/admin_reports.ts";
import { bigSets } from "./attacks/big_sets.ts";
import { budgetSquatting } from "./attacks/budget_squatting.ts";
import { emptyItems } from "./attacks/empty_items.ts";
import { endlessQueues } from "./attacks/endless_queues.ts";
import { fanout } from "./attacks/fanout.ts";
import { idleConnections } from "./attacks/idle_connections.ts";
import { manyQueues } from "./attacks/many_queues.ts";
import { newNames } from "./attacks/new_names.ts";
import { openItems } from "./attacks/open_items.ts";
import { openSmallItems } from "./attacks/open_small_items.ts";
import { slowloris } from "./attacks/slowloris.ts";
import { smallItemsKept } from "./attacks/small_items_kept.ts";
import { timedOutGets } from "./attacks/timed_out_gets.ts";
import { unreadGets } from "./attacks/unread_gets.ts";
import { unreadMultiGets } from "./attacks/unread_multi_gets.ts";
import { wideFanoutFlood } from "./attacks/wide_fanout_flood.ts";
import type { AttackResult } from "./lib/attack_lab.ts";
import { type AttackPlan, Knobs } from "./lib/attack_plan.ts";
import { attackReport, findings, withinCeiling } from "./lib/attack_report.ts";
import { requireFreeSpace } from "./lib/disk.ts";
import { describePing, describeProbe } from "./lib/probe_run.ts";
import { mib } from "./lib/report.ts";
import { runBench } from "./lib/run_bench.ts";
import { SettingsError } from "./lib/settings.ts";

const ATTACKS: readonly AttackPlan[] = [bigSets, unreadGets, newNames, timedOutGets, manyQueues, fanout, idleConnections, openItems, budgetSquatting, slowloris, unreadMultiGets, endlessQueues, adminReports, smallItemsKept, openSmallItems, emptyItems, wideFanoutFlood];
/** Room for logs, the page cache's write-back and a margin, besides the largest data dir. */
const DISK_MARGIN_BYTES = 512 * 1024 * 1024;

function selected(text: string | undefined): Set<number> | null {
  if (text === undefined || text.trim() === "") return null;
  const numbers = text.split(",").map((part) => Number(part.trim()));
  if (numbers.some((n) => !Number.isInteger(n) || n < 1 || n > ATTACKS.length)) {
    throw new SettingsError(`ATTACK_ONLY: expected attack numbers from 1 to ${ATTACKS.length} like "2,8", got "${text}"`);
  }
  return new Set(numbers);
}

async function main(): Promise<void> {
  const began = performance.now();
  const knobs = new Knobs(process.env, process.env.ATTACK_QUICK === "1");
  const only = selected(process.env.ATTACK_ONLY);
  const planned = ATTACKS.map((plan) => plan(knobs)).filter((_, i) => only === null || only.has(i + 1));
  const largest = Math.max(0, ...planned.map((attack) => attack.diskBytes));
  requireFreeSpace(tmpdir(), 2 * largest + DISK_MARGIN_BYTES, `the largest attack's journals take about ${mib(largest)}`, "set ATTACK_QUICK=1");

  const results: AttackResult[] = [];
  const failures: string[] = [];
  for (const attack of planned) {
    console.error(`${attack.title}: ${attack.parameters}`);
    try {
      const result = await attack.run();
      results.push(result);
      console.error(`  before ${mib(result.before)}, peak ${mib(result.peak)}, after ${mib(result.after)}; ceiling ${mib(result.ceiling.bytes)}: ${withinCeiling(result) ? "PASS" : "FAIL"}; worst ping gap ${describePing(result.probe)}; new clients ${describeProbe(result.probe)}`);
    } catch (error) {
      failures.push(`${attack.title}: could not be run to the end: ${(error as Error).message}`);
      console.error(`  failed: ${(error as Error).stack ?? error}`);
    }
  }
  const report = { quick: knobs.quick, results, failures, seconds: (performance.now() - began) / 1000 };
  console.log(attackReport(report));
  if (findings(report).length > 0) process.exitCode = 1;
}

await runBench(main, "stopping the servers and removing their data dirs");
