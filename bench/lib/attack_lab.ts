/**
 * The frame every attack runs in: a stall scene (bench/lib/stall_scene.ts: a fresh server on
 * loopback, port 0, its own temp dir and config) that has served a few seconds of ordinary traffic
 * (bench/lib/warm_up.ts: the RSS before is a serving server's, not a just-started one's), the readings around the attack (the RSS just
 * before, the peak during, the RSS after; the probes of bench/probe.ts throughout: new clients
 * served, the worst gap of a 5 ms ping), the checks after it, and the record of what it found.
 *
 * Invariants: once `withLab` returns or throws, the lab's server, its probe and its temp dir are
 * gone; the peak is VmHWM reset at the start of the attack window, or, where the kernel refuses
 * the reset, the highest RSS sampled every SAMPLE_MS (and the result says which).
 */
import { randomBytes } from "node:crypto";
import { AttackClient, setInBatches } from "./attack_client.ts";
import { type Ceiling, STALL_MS } from "./attack_bounds.ts";
import { waitFor } from "./client.ts";
import type { KestrelChild } from "./kestrel_child.ts";
import { resetPeak } from "./process_readings.ts";
import { ProbeRun, type ProbeSummary } from "./probe_run.ts";
import type { Startup } from "./server_log.ts";
import { Scene } from "./stall_scene.ts";
import { integer } from "./report.ts";
import { KESTREL_FROM_SOURCE } from "./targets.ts";
import { warmUp } from "./warm_up.ts";

const SAMPLE_MS = 50;
const ADMIN_LINE = /admin HTTP on http:\/\/\S+:(\d+) /;
const POLL_MS = 200;
/** Pause after an attack ends before the RSS "after" is read (idle files close within 2 s). */
export const SETTLE_MS = 3000;
/**
 * Ordinary traffic after an attack, enough for the server's memory pacer to look at its RSS
 * (every 1 MiB) and collect if it grew: what stays after it is held, not garbage not yet collected.
 */
export const TRAFFIC_MIB = 4;
/** After the warm-up's collection, the RSS must stay put this long... */
const WARM_STILL_MS = 1000;
/** ...or this long have passed (and as long for the collection). */
const WARM_SETTLE_MAX_MS = 6000;

/** A bound other than the memory ceiling: open files, a time, a reply. */
export interface Bound {
  readonly measure: string;
  readonly value: string;
  readonly bound: string;
  /** null: reported, not judged. */
  readonly pass: boolean | null;
}

export interface AttackResult {
  readonly name: string;
  readonly parameters: string;
  /** RSS just before the attack, bytes. */
  readonly before: number;
  readonly peak: number;
  readonly peakFrom: "VmHWM" | "sampled RSS";
  readonly after: number;
  readonly ceiling: Ceiling;
  readonly probe: ProbeSummary;
  /** What was wrong after the attack (a failed round trip, a count off), empty when all was well. */
  readonly incorrect: readonly string[];
  readonly bounds: readonly Bound[];
  readonly notes: readonly string[];
  readonly problems: readonly string[];
}

/** What the window around an attack saw. */
export interface During {
  readonly before: number;
  readonly peak: number;
  readonly peakFrom: AttackResult["peakFrom"];
  readonly probe: ProbeSummary;
}

/** What `Lab.aftermath` found. */
export interface Aftermath {
  readonly after: number;
  readonly stats: Map<string, number>;
  readonly afterTraffic: number;
  readonly roundTrip: string | null;
}

/** The measured window of one attack: from `begin` (RSS before, peak reset, probe started) to `end`. */
export class AttackWindow {
  private highest: number;
  private readonly sampler: ReturnType<typeof setInterval>;

  private constructor(
    private readonly server: KestrelChild,
    readonly before: number,
    private readonly peakReset: boolean,
    private readonly probe: ProbeRun,
  ) {
    this.highest = before;
    this.sampler = setInterval(() => (this.highest = Math.max(this.highest, server.memory().rss || 0)), SAMPLE_MS);
  }

  static async begin(server: KestrelChild): Promise<AttackWindow> {
    const before = server.memory().rss;
    // The peak may already have grown a little past the RSS read a moment before.
    const peakReset = resetPeak(server.pid) && server.memory().peak <= before * 1.05 + 1024 * 1024;
    return new AttackWindow(server, before, peakReset, await ProbeRun.start(server.port));
  }

  /** The peak so far (to tell the phases of an attack apart). */
  peakSoFar(): number {
    return this.peakReset ? this.server.memory().peak : Math.max(this.highest, this.server.memory().rss);
  }

  async end(): Promise<During> {
    clearInterval(this.sampler);
    const probe = await this.probe.stop();
    const peak = this.peakSoFar();
    return { before: this.before, peak, peakFrom: this.peakReset ? "VmHWM" : "sampled RSS", probe };
  }
}

export class Lab {
  readonly bounds: Bound[] = [];
  readonly notes: string[] = [];
  readonly problems: string[] = [];
  private closed = false;

  private constructor(private readonly scene: Scene) {}

  /** A server with `configToml` on a fresh temp dir, listening, warmed up (bench/lib/warm_up.ts) and settled. */
  static async open(name: string, configToml: string): Promise<Lab> {
    const settings = { itemSize: 0, connections: 0, batch: 0, stallMs: STALL_MS, server: KESTREL_FROM_SOURCE };
    const lab = new Lab(await Scene.open(name, configToml, settings));
    try {
      const collections = async () => (await lab.stats()).get("memory_collections") ?? 0;
      const collectionsBefore = await collections();
      await warmUp(lab.port);
      // The memory pacer collects in the first quiet second after traffic; what it leaves settles in about half a second.
      // (Polled every POLL_MS: a stats reply is traffic, and too much of it would keep the second from being quiet.)
      await waitFor("the memory pacer's quiet collection after the warm-up", WARM_SETTLE_MAX_MS, async () => {
        if ((await collections()) > collectionsBefore) return true;
        await Bun.sleep(POLL_MS);
        return null;
      });
      await whenStill(() => lab.server.memory().rss, WARM_STILL_MS, WARM_SETTLE_MAX_MS);
    } catch (error) {
      await lab.close();
      throw error;
    }
    return lab;
  }

  get server(): KestrelChild {
    return this.scene.kestrel;
  }

  get port(): number {
    return this.scene.port;
  }

  get dataDir(): string {
    return this.scene.dataDir;
  }

  /** The admin HTTP port of a server whose config says `admin_port = 0`, from its `admin HTTP on http://<host>:<port>` log line. */
  adminPort(): Promise<number> {
    return waitFor("the server to log its admin port", 10_000, () => {
      const line = this.server.logLines(ADMIN_LINE)[0];
      return line === undefined ? null : Number(ADMIN_LINE.exec(line)![1]);
    });
  }

  stats(): Promise<Map<string, number>> {
    return this.scene.stats();
  }

  /** SIGTERM, then a new server on the same data dir; the stop's duration and the new start's milestones. */
  async restart(): Promise<{ stopMs: number; startup: Startup }> {
    const stopMs = await this.scene.restart();
    return { stopMs, startup: this.server.startup };
  }

  beginAttack(): Promise<AttackWindow> {
    return AttackWindow.begin(this.server);
  }

  /** Waits SETTLE_MS (the attack is over) and returns the RSS then. */
  async settle(): Promise<number> {
    await Bun.sleep(SETTLE_MS);
    return this.server.memory().rss;
  }

  /**
   * After an attack (its window ended, its clients gone): the RSS once settled, the stats then,
   * the RSS after other traffic, and what a round trip found wrong (or null), taken in that order.
   */
  async aftermath(): Promise<Aftermath> {
    const after = await this.settle();
    const stats = await this.stats();
    const afterTraffic = await this.rssAfterTraffic();
    const roundTrip = await this.roundTrip();
    return { after, stats, afterTraffic, roundTrip };
  }

  /** Sets `count` copies of `item` into `queue`, 16 per write, on a fresh connection. */
  async fill(queue: string, count: number, item: Uint8Array): Promise<void> {
    const producer = await AttackClient.connect(this.port);
    try {
      await setInBatches(producer, () => queue, count, item, 16);
    } finally {
      producer.close();
    }
  }

  /** Sets and gets of 64 KiB items, TRAFFIC_MIB in all, on a fresh connection; the RSS 500 ms later. */
  async rssAfterTraffic(): Promise<number> {
    const client = await AttackClient.connect(this.port);
    const item = Buffer.alloc(64 * 1024, "t");
    const rounds = (TRAFFIC_MIB * 1024) / 64 / 2;
    try {
      await setInBatches(client, () => "attack_traffic", rounds, item, 16);
      await client.request("get attack_traffic\r\n".repeat(rounds), rounds);
    } finally {
      client.close();
    }
    await Bun.sleep(500);
    return this.server.memory().rss;
  }

  /** A set and a get of 10 KiB of random bytes on a fresh connection; what went wrong, or null. */
  async roundTrip(): Promise<string | null> {
    const data = randomBytes(10 * 1024);
    const block = Buffer.concat([data, Buffer.from("\r\n")]);
    let client: AttackClient | null = null;
    try {
      client = await AttackClient.connect(this.port, block);
      const [stored] = await client.request(Buffer.concat([Buffer.from(`set attack_check 0 0 ${data.length}\r\n`), block]), 1, 10_000);
      if (stored!.kind !== "stored") return `round trip: set answered ${stored!.kind} ${stored!.detail}`.trim();
      const [got] = await client.request("get attack_check\r\n", 1, 10_000);
      return got!.kind === "hit" ? null : `round trip: get answered ${got!.kind} ${got!.detail}`.trim();
    } catch (error) {
      return `round trip: ${(error as Error).message}`;
    } finally {
      client?.close();
    }
  }

  /** How many items `queue` holds (NaN if the server doesn't list it). */
  async queueItems(queue: string): Promise<number> {
    return (await this.stats()).get(`queue_${queue}_items`) ?? NaN;
  }

  /**
   * After clients read back the replies they had left unread: the `received` items plus those
   * left in `queue` must be the `set` ones, and a round trip must still work. What went wrong is
   * added to `incorrect`, what was found to the notes.
   */
  async accountForItems(queue: string, set: number, received: number, incorrect: string[]): Promise<void> {
    const left = await this.queueItems(queue);
    if (received + left !== set) incorrect.push(`${integer(received)} items received + ${integer(left)} left in ${queue} ≠ ${integer(set)} set`);
    const roundTrip = await this.roundTrip();
    if (roundTrip !== null) incorrect.push(roundTrip);
    this.notes.push(`afterwards the clients read ${integer(received)} items (each checked), ${integer(left)} stayed in ${queue}`);
  }

  bound(measure: string, value: string, bound: string, pass: boolean | null): void {
    this.bounds.push({ measure, value, bound, pass });
  }

  /** The attack's record; `problems`, `bounds` and `notes` are this lab's, so `close` can still add to them. */
  result(parts: { name: string; parameters: string; during: During; after: number; ceiling: Ceiling; incorrect: string[] }): AttackResult {
    const { during, ...rest } = parts;
    return { ...rest, ...during, bounds: this.bounds, notes: this.notes, problems: this.problems };
  }

  /** Stops the server (its log's warnings become notes; a bad exit, crash and ERROR lines problems) and removes the temp dir. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exited = this.server.exited();
    if (exited !== null) this.problems.push(`the server ${exited} during the attack`);
    await this.scene.close();
    for (const [kind, count] of this.scene.warnings) this.notes.push(`server log: ${kind}${count > 1 ? ` (x${integer(count)})` : ""}`);
    this.problems.push(...this.scene.problems);
  }
}

/** Runs `attack` in a new lab and closes the lab whatever happens. */
export async function withLab(name: string, configToml: string, attack: (lab: Lab) => Promise<AttackResult>): Promise<AttackResult> {
  const lab = await Lab.open(name, configToml);
  try {
    const result = await attack(lab);
    await lab.close();
    return result;
  } finally {
    await lab.close();
  }
}

/** Polls `read` (every 200 ms or so) until its value has not changed for `quietMs` (or `maxMs` passed); returns the value. */
export async function whenStill(read: () => number | Promise<number>, quietMs: number, maxMs: number): Promise<number> {
  const deadline = performance.now() + maxMs;
  let last = await read();
  let changedAt = performance.now();
  return waitFor("a value to stop changing", maxMs + 10_000, async () => {
    await Bun.sleep(POLL_MS);
    const now = await read();
    if (now !== last) {
      last = now;
      changedAt = performance.now();
    }
    return performance.now() - changedAt >= quietMs || performance.now() >= deadline ? last : null;
  });
}
