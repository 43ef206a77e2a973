/**
 * The client compatibility suite (`npm run test:clients`): installs what the client scenarios
 * need, then runs each scenario (test/clients/catalogue.ts) against its own fresh kestrel server
 * on loopback and prints a markdown table: client, version, and each check's result.
 *
 * A scenario prints one line per result on stdout:
 *   version <text>               the client library's version
 *   pass <check> [detail]
 *   fail <check> <detail>
 *   skip <check> <reason>        the client has no way to do it
 * A scenario that exits non-zero, prints nothing for a check it started or runs past
 * SCENARIO_TIMEOUT_MS fails as a whole ("scenario" column). The run ends with a line
 * "N passed, N failed, N skipped" and exits 1 if anything failed.
 *
 * `KESTREL_CLIENTS=pymemcache,Dalli npm run test:clients` runs only the named clients.
 * Not part of `npm test` (no `.test.ts` name): it installs packages.
 */
import { spawnSync } from "node:child_process";
import { ensureDebianPackages } from "../helpers/debian.ts";
import { cleanUpServers, ServerProcess } from "../helpers/server.ts";
import { CLIENTS, type Client, DEBIAN_CHECKS, DEBIAN_PACKAGES } from "./catalogue.ts";

const SCENARIO_TIMEOUT_MS = 60_000;

/** The server's config: the "pooled" check's queue hands back an item left open for 500 ms. */
const SERVER_CONFIG = `
[queues.pooled]
open_transaction_timeout = 500
`;

/** Columns in this order; a check a scenario reports that is not listed here goes at the end. */
const CHECK_ORDER = ["order", "blocking", "reliable", "pooled", "binary", "large", "types", "gets", "noreply", "multiget", "stats", "binary_protocol"];

type Outcome = "pass" | "fail" | "skip";

interface Result {
  readonly check: string;
  readonly outcome: Outcome;
  readonly detail: string;
}

interface Row {
  readonly client: Client;
  readonly version: string;
  readonly results: readonly Result[];
  readonly seconds: number;
}

function succeeds(command: readonly string[]): boolean {
  return spawnSync(command[0]!, command.slice(1), { stdio: "ignore" }).status === 0;
}

/** Parses a scenario's stdout; anything that is not a result line is ignored. */
export function parseScenarioOutput(stdout: string): { version: string; results: Result[] } {
  let version = "?";
  const results: Result[] = [];
  for (const line of stdout.split("\n")) {
    const match = /^(version|pass|fail|skip) ?(\S*) ?(.*)$/.exec(line.trimEnd());
    if (match === null) continue;
    const [, kind, first, rest] = match as unknown as [string, string, string, string];
    if (kind === "version") version = `${first} ${rest}`.trim();
    else results.push({ check: first, outcome: kind as Outcome, detail: rest });
  }
  return { version, results };
}

async function runScenario(client: Client): Promise<Row> {
  const started = performance.now();
  const server = await ServerProcess.start({ config: SERVER_CONFIG });
  try {
    const proc = Bun.spawn([...client.command, "127.0.0.1", String(server.port)], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const timer = setTimeout(() => proc.kill("SIGKILL"), SCENARIO_TIMEOUT_MS);
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    clearTimeout(timer);
    const { version, results } = parseScenarioOutput(stdout);
    if (code !== 0 || results.length === 0) {
      const why = proc.signalCode === "SIGKILL" ? `killed after ${SCENARIO_TIMEOUT_MS} ms` : `exit code ${code}`;
      results.push({ check: "scenario", outcome: "fail", detail: `${why}: ${stderr.trim().split("\n").slice(-3).join(" | ")}` });
    }
    return { client, version, results, seconds: (performance.now() - started) / 1000 };
  } finally {
    await server.kill9();
  }
}

function columns(rows: readonly Row[]): string[] {
  const seen = new Set(rows.flatMap((row) => row.results.map((result) => result.check)));
  return [...CHECK_ORDER.filter((check) => seen.has(check)), ...[...seen].filter((check) => !CHECK_ORDER.includes(check))];
}

function cell(row: Row, check: string): string {
  const outcomes = row.results.filter((result) => result.check === check).map((result) => result.outcome);
  if (outcomes.length === 0) return "";
  if (outcomes.includes("fail")) return "FAIL";
  return outcomes.includes("pass") ? "pass" : "n/a";
}

function printReport(rows: readonly Row[]): { passed: number; failed: number; skipped: number } {
  const checks = columns(rows);
  console.log(`| client | version | ${checks.join(" | ")} | s |`);
  console.log(`| --- | --- | ${checks.map(() => "---").join(" | ")} | ---: |`);
  for (const row of rows) {
    const cells = checks.map((check) => cell(row, check));
    console.log(`| ${row.client.name} (${row.client.language}) | ${row.version} | ${cells.join(" | ")} | ${row.seconds.toFixed(1)} |`);
  }
  const all = rows.flatMap((row) => row.results.map((result) => ({ row, result })));
  const notes = all.filter(({ result }) => result.outcome !== "pass" || result.detail !== "");
  if (notes.length > 0) console.log("\nDetails:\n");
  for (const { row, result } of notes) console.log(`- ${row.client.name} ${result.check}: ${result.outcome}${result.detail === "" ? "" : `: ${result.detail}`}`);
  const count = (outcome: Outcome) => all.filter(({ result }) => result.outcome === outcome).length;
  return { passed: count("pass"), failed: count("fail"), skipped: count("skip") };
}

async function main(): Promise<number> {
  const only = process.env.KESTREL_CLIENTS?.split(",").map((name) => name.trim());
  const clients = only === undefined ? CLIENTS : CLIENTS.filter((client) => only.includes(client.name));
  ensureDebianPackages(DEBIAN_PACKAGES, () => DEBIAN_CHECKS.every(succeeds));
  const rows: Row[] = [];
  for (const client of clients) {
    console.error(`client ${client.name} ...`);
    rows.push(await runScenario(client));
  }
  const { passed, failed, skipped } = printReport(rows);
  console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) {
  try {
    process.exitCode = await main();
  } finally {
    cleanUpServers();
  }
}
