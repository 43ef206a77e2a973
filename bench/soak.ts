/**
 * Soak test: minutes of producers and consumers against one Kestrel data directory while the
 * server is reloaded, restarted, killed and starved of disk, then a ledger of every item.
 *
 * What it does
 *   A real server (src/main.ts on this bun, loopback, port 0) serves five queues: `jobs` with a
 *   fanout child `jobs+audit`, `mail` (item-count and item-size limits), `slow` (max_age, expired
 *   items moved to `parked`) and `parked`. Journal segments and the memory budget are tiny, so
 *   rotations, compactions and read-behind never stop (bench/lib/soak_config.ts). Three producers
 *   send pipelined batches of sets, items of 64 B to 96 KiB that name their producer and number
 *   and check themselves (bench/lib/soak_items.ts); reliable consumers (`get q/close/open/t=200`,
 *   now and then an abort) and plain consumers (`get q/t=200`, `get q`) read every queue, the one
 *   of `slow` slowly so that items expire (bench/lib/soak_crew.ts). Every 1-4 s one fault, at
 *   random:
 *     reload     a new config (other sync_journal, segment and memory sizes, limits), `reload`
 *     SIGHUP     the same through the signal
 *     disk full  the data directory is a small tmpfs; a filler file takes every free byte, and
 *                what the server frees, for 1-4 s (sets must then be refused, never acknowledged
 *                and lost), sometimes with a kill -9 before it is freed; once freed, jobs and slow
 *                must take sets again within 30 s. Skipped, with a note, when the tmpfs cannot be
 *                mounted (not root).
 *     SIGTERM    a clean stop (exit code 0 expected) and a restart
 *     kill -9    and a restart
 *   At the end the producers stop, the consumers confirm what they hold, the server restarts, every
 *   queue is drained to empty, and after one more restart every queue must still be empty.
 *
 * The ledger (rules in bench/lib/soak_ledger.ts)
 *   Per track (a queue and where its items may move): acknowledged, delivered, confirmed, consumed,
 *   remaining at the end, lost, duplicated (allowed: after an abort or an unconfirmed open; not
 *   allowed: "came back" after being consumed, "served twice" at once), invented. Anything lost,
 *   invented or duplicated when not allowed is a problem, and so is a stall (no reply for 20 s: the
 *   client then gives up its connection for a new one), a server that exits by itself or with a
 *   bad code, a valid config not applied, or a crash line in the server log
 *   (bench/lib/server_log.ts); the exit code is 1 when there is any.
 *
 * Run (not part of `bun test`: it takes minutes)
 *   npm run soak
 *   KESTREL_SOAK_SECONDS=60 bun bench/soak.ts        or        bun bench/soak.ts 60
 *
 * Environment
 *   KESTREL_SOAK_SECONDS   how long faults go on (default 300); the drain at the end adds a little
 *   KESTREL_SOAK_SEED      seeds the faults and the clients' choices (default 1); the timing, and so
 *                          where a kill lands, still differs from run to run
 *   KESTREL_SOAK_DISK_MIB  size of the tmpfs holding the data (default 64)
 *
 * Output: a markdown report on stdout (ledger, faults, server log, problems), progress on stderr.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { seededRandom } from "../test/helpers/bytes.ts";
import { type ServerProcess, cleanUpServers } from "../test/helpers/server.ts";
import { Tmpfs } from "../test/helpers/tmpfs.ts";
import { runBench } from "./lib/run_bench.ts";
import { ask, drainAll, hasExited, reloadByCommand, reloadBySignal, startServer, stopGracefully } from "./lib/server_control.ts";
import { LogSummary } from "./lib/server_log.ts";
import { integerSetting } from "./lib/settings.ts";
import { soakConfig } from "./lib/soak_config.ts";
import { Crew, type CrewContext, type CrewPlan } from "./lib/soak_crew.ts";
import { Ledger } from "./lib/soak_ledger.ts";
import { allProblems, soakReport } from "./lib/soak_report.ts";

const COPIES_OF = { jobs: ["jobs", "jobs+audit"], mail: ["mail"], slow: ["slow"] };
const TRACK_OF = { jobs: "jobs", "jobs+audit": "jobs+audit", mail: "mail", slow: "slow", parked: "slow" };
const PLAN: CrewPlan = {
  producers: 3,
  produceTo: Object.keys(COPIES_OF),
  producerPauseMs: 40,
  reliable: ["jobs", "jobs+audit", "mail", "parked"],
  plain: [
    { queue: "jobs", pauseMs: 0 },
    { queue: "mail", pauseMs: 0 },
    { queue: "slow", pauseMs: 40 },
    { queue: "parked", pauseMs: 0 },
  ],
};
/** Queues without limits: once the disk is freed, each must take a set again. */
const MUST_RECOVER = ["jobs", "slow"];
type Fault = "reload" | "SIGHUP" | "disk full" | "SIGTERM" | "kill -9";
const FAULTS: ReadonlyArray<readonly [Fault, number]> = [["reload", 3], ["SIGHUP", 2], ["disk full", 2], ["SIGTERM", 1], ["kill -9", 2]];
const RECOVERY_MS = 30_000;

class Soak {
  readonly ledger = new Ledger(COPIES_OF, TRACK_OF);
  readonly log = new LogSummary();
  readonly faults = new Map<string, number>();
  readonly refusals = new Map<string, number>();
  /** Per disk fill: the sets refused while the disk was full. */
  private readonly refusedPerFill: number[] = [];
  readonly problems: string[] = [];
  private readonly began = performance.now();
  private config: string;
  private readonly crewContext: CrewContext;
  private slowestRecoveryMs = 0;

  constructor(
    private readonly random: () => number,
    private readonly dataDir: string,
    private readonly configPath: string,
    private readonly disk: Tmpfs | null,
  ) {
    this.config = soakConfig(random);
    // The clients draw from their own stream, so the faults' sequence depends on the seed alone.
    const crewRandom = seededRandom(Math.floor(random() * 2 ** 32));
    this.crewContext = { ledger: this.ledger, random: crewRandom, refusals: this.refusals, problem: (text) => this.problem(text) };
  }

  /** One server lifetime with faults until a restart or the deadline; false at the deadline. */
  async lifetime(deadline: number): Promise<boolean> {
    this.ledger.epoch++;
    const server = await this.start();
    const crew = Crew.start(PLAN, this.ledger.epoch, () => server.client(), this.crewContext);
    for (;;) {
      const pause = await this.pause(server, Math.min(deadline, performance.now() + 1000 + this.random() * 3000));
      if (pause === "exited") {
        this.problem(`the server exited by itself (${server.proc.exitCode ?? server.proc.signalCode}); log tail:\n${server.output.slice(-2000)}`);
        return this.ended(server, crew);
      }
      if (pause === "timeout" && performance.now() >= deadline) {
        await crew.stop();
        await this.stop(server);
        await this.ended(server, crew);
        return false;
      }
      const fault = this.pickFault();
      this.progress(`${fault} (${this.ledger.acknowledged()} acknowledged so far)`);
      if (fault === "reload") await this.reload(server, reloadByCommand);
      if (fault === "SIGHUP") await this.reload(server, reloadBySignal);
      if (fault === "disk full" && (await this.fillDisk(server, crew))) return this.ended(server, crew);
      if (fault === "SIGTERM") await this.stop(server);
      if (fault === "kill -9") await server.kill9();
      if (fault === "SIGTERM" || fault === "kill -9") return this.ended(server, crew);
    }
  }

  /** Restarts, drains every queue, and checks after one more restart that they stay empty. */
  async finish(): Promise<void> {
    for (let pass = 0; pass < 2; pass++) {
      this.ledger.epoch++;
      const server = await this.start();
      this.progress(pass === 0 ? "final drain" : "checking that every queue stays empty");
      await drainAll(server, Object.keys(TRACK_OF), (queue, data) => this.ledger.delivered(queue, data, "drain"));
      await this.stop(server);
      this.log.add(server.output, this.ledger.epoch);
    }
  }

  problem(text: string): void {
    this.problems.push(`${this.elapsed()} s, epoch ${this.ledger.epoch}: ${text}`);
    this.progress(`PROBLEM: ${text}`);
  }

  private async start(): Promise<ServerProcess> {
    const server = await startServer({ dataDir: this.dataDir, configPath: this.configPath, config: this.config });
    // The fanout child exists before the first set, so it gets a copy of every item.
    await ask(server, "get jobs+audit/peek");
    return server;
  }

  /** Waits until `until` or until `done()`; returns early if the server exits. */
  private async pause(server: ServerProcess, until: number, done = () => false): Promise<"done" | "exited" | "timeout"> {
    while (!done()) {
      if (performance.now() >= until) return "timeout";
      await Bun.sleep(100);
      if (hasExited(server)) return "exited";
    }
    return "done";
  }

  /** Once the server is gone: waits for the clients to notice and reads the server's log. */
  private async ended(server: ServerProcess, crew: Crew): Promise<true> {
    await crew.finished();
    await server.exited();
    this.log.add(server.output, this.ledger.epoch);
    return true;
  }

  private pickFault(): Fault {
    const choices = FAULTS.filter(([fault]) => fault !== "disk full" || this.disk !== null);
    let r = this.random() * choices.reduce((sum, [, weight]) => sum + weight, 0);
    const [fault] = choices.find(([, weight]) => (r -= weight) < 0) ?? choices[0]!;
    this.count(fault);
    return fault;
  }

  private count(fault: string): void {
    this.faults.set(fault, (this.faults.get(fault) ?? 0) + 1);
  }

  /** Rewrites the config file with new limits and has the server reload it by `how`. */
  private async reload(server: ServerProcess, how: (server: ServerProcess) => Promise<string | null>): Promise<void> {
    this.config = soakConfig(this.random);
    writeFileSync(this.configPath, this.config);
    const problem = await how(server);
    if (problem !== null) this.problem(`a valid config was not applied: ${problem}\n${this.config}`);
  }

  /** Fills the disk for a while, then frees it (sometimes after a kill -9); true if the server was killed. */
  private async fillDisk(server: ServerProcess, crew: Crew): Promise<boolean> {
    const disk = this.disk!;
    const refusedBefore = this.refusedSets();
    // The server frees space too (drained journals are reset): the filler takes it as it comes.
    const holdUntil = performance.now() + 1000 + this.random() * 3000;
    while (performance.now() < holdUntil && (await this.pause(server, Math.min(holdUntil, performance.now() + 100))) !== "exited") disk.fillLeaving(0);
    if (this.random() < 0.3) await this.reload(server, reloadByCommand);
    this.refusedPerFill.push(this.refusedSets() - refusedBefore);
    if (this.random() < 0.3) {
      this.count("disk full: killed before freeing");
      await server.kill9();
      disk.free();
      return true;
    }
    disk.free();
    const freedAt = performance.now();
    const ackedBefore = MUST_RECOVER.map((queue) => this.ledger.acknowledged(queue));
    const recovered = () => MUST_RECOVER.every((queue, i) => this.ledger.acknowledged(queue) > ackedBefore[i]!);
    if ((await this.pause(server, freedAt + RECOVERY_MS, recovered)) === "timeout") {
      const waiting = crew.waiting().join(", ") || "none";
      this.problem(`${MUST_RECOVER.join(" and ")} did not all take a set within ${RECOVERY_MS / 1000} s of the disk being freed; clients waiting for a reply: ${waiting}`);
    }
    this.slowestRecoveryMs = Math.max(this.slowestRecoveryMs, performance.now() - freedAt);
    return false;
  }

  private refusedSets(): number {
    return [...this.refusals].reduce((sum, [kind, n]) => sum + (kind.startsWith("set ") ? n : 0), 0);
  }

  private async stop(server: ServerProcess): Promise<void> {
    const problem = await stopGracefully(server);
    if (problem !== null) this.problem(problem);
  }

  private elapsed(): string {
    return ((performance.now() - this.began) / 1000).toFixed(1);
  }

  private progress(text: string): void {
    console.error(`[${this.elapsed()} s] epoch ${this.ledger.epoch}: ${text}`);
  }

  /** What the disk fills did, for the report. */
  diskNotes(): string[] {
    const fills = this.refusedPerFill;
    if (fills.length === 0) return [];
    const refused = fills.reduce((sum, n) => sum + n, 0);
    const none = fills.filter((n) => n === 0).length;
    return [`${fills.length} disk fills; ${refused} sets refused while full (${none} fills saw none); slowest recovery after freeing: ${(this.slowestRecoveryMs / 1000).toFixed(1)} s.`];
  }
}

/** A tmpfs of `mib` MiB for the data, or why there is none. */
function mountDisk(mib: number): Tmpfs | string {
  try {
    return Tmpfs.mount(`${mib}m`);
  } catch (error) {
    return (error as Error).message;
  }
}

async function main(): Promise<void> {
  const env = { ...process.env, KESTREL_SOAK_SECONDS: process.argv[2] ?? process.env.KESTREL_SOAK_SECONDS };
  const seconds = integerSetting(env, "KESTREL_SOAK_SECONDS", 300, "a whole number of seconds, at least 10", 10);
  const seed = integerSetting(env, "KESTREL_SOAK_SEED", 1, "an integer", 0);
  const diskMiB = integerSetting(env, "KESTREL_SOAK_DISK_MIB", 64, "a size in MiB, at least 8", 8);
  const root = mkdtempSync(join(tmpdir(), "kestrel-soak-"));
  const mounted = mountDisk(diskMiB);
  const disk = typeof mounted === "string" ? null : mounted;
  process.on("exit", () => {
    cleanUpServers();
    disk?.unmount();
    rmSync(root, { recursive: true, force: true });
  });
  const diskNote = disk === null ? `The disk-full fault was skipped: ${mounted}.` : null;
  if (diskNote !== null) console.error(diskNote);
  const dataDir = disk?.dataDir ?? join(root, "data");
  console.error(`soak: ${seconds} s of faults, seed ${seed}, data on ${disk === null ? "the temp dir" : `a ${diskMiB} MiB tmpfs`} at ${dataDir}`);

  const soak = new Soak(seededRandom(seed), dataDir, join(root, "kestrel.toml"), disk);
  const deadline = performance.now() + seconds * 1000;
  try {
    while (await soak.lifetime(deadline));
    await soak.finish();
  } catch (error) {
    soak.problem(`the soak could not finish, so the ledger counts undrained items as lost: ${(error as Error).stack ?? error}`);
  }
  const result = {
    seconds,
    seed,
    epochs: soak.ledger.epoch,
    diskNote,
    verdict: soak.ledger.verdict(),
    faults: soak.faults,
    refusals: soak.refusals,
    notes: soak.diskNotes(),
    log: soak.log,
    problems: soak.problems,
  };
  const problems = allProblems(result);
  console.log(soakReport(result, problems));
  process.exit(problems.length === 0 ? 0 : 1);
}

await runBench(main, "stopping the soak");
