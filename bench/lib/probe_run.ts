/**
 * Runs bench/probe.ts against a server for the length of an attack, in its own process, and sums
 * up what it saw: did new clients get served (a `version` on a fresh connection every
 * PROBE_INTERVAL_MS, each answered within RESPONSIVE_MS), and the worst gap of the 5 ms ping
 * (bench/lib/ping.ts) on one connection opened before the attack.
 *
 * The probe is a ChildServer, so it is killed on every exit path of the benchmark; a probe that
 * could not report its ping figures shows as a failure, never as a clean result.
 */
import { join } from "node:path";
import { waitFor } from "./client.ts";
import { RESPONSIVE_MS, STALL_MS } from "./attack_bounds.ts";
import type { PingFigures } from "./ping.ts";
import { ChildServer } from "./targets.ts";

const PROBE = join(import.meta.dir, "..", "probe.ts");
export const PROBE_INTERVAL_MS = 100;

export interface ProbeSummary {
  /** Fresh connections tried. */
  readonly probes: number;
  /** Slowest answered fresh-connection probe, ms (NaN if none was answered). */
  readonly worstMs: number;
  /** Fresh-connection probes with no VERSION within RESPONSIVE_MS, or whose connection failed. */
  readonly unanswered: number;
  /** The first failure's line (`timeout`, `error ...`), or null. */
  readonly firstFailure: string | null;
  /** The 5 ms ping's figures, or null if the probe could not report them. */
  readonly ping: PingFigures | null;
}

export class ProbeRun {
  private constructor(private readonly child: ChildServer) {}

  /** Starts probing `port`; resolves once the first fresh-connection probe has finished. */
  static async start(port: number): Promise<ProbeRun> {
    const child = ChildServer.spawn([process.execPath, PROBE, String(port), String(PROBE_INTERVAL_MS), String(STALL_MS)], import.meta.dir, []);
    await waitFor("the responsiveness probe to start", 15_000, () => {
      if (child.exited() !== null) throw new Error(`the probe ${child.exited()}: ${child.output.text}`);
      return child.output.text.includes("\n") ? true : null;
    });
    return new ProbeRun(child);
  }

  async stop(): Promise<ProbeSummary> {
    const stopProblems = await this.child.stop(true);
    const lines = this.child.output.text.split("\n").filter((line) => line !== "" && !line.startsWith("ping "));
    const pingLine = this.child.output.text.split("\n").find((line) => line.startsWith("ping "));
    const ping = pingLine === undefined ? null : readPing(pingLine.slice("ping ".length));
    const times = lines.map(Number).filter((ms) => Number.isFinite(ms) && ms <= RESPONSIVE_MS);
    const failures = lines
      .filter((line) => !Number.isFinite(Number(line)) || Number(line) > RESPONSIVE_MS)
      .map((line) => (Number.isFinite(Number(line)) ? `answered after ${Number(line).toFixed(0)} ms` : line));
    if (ping === null) failures.push(`no ping figures (${stopProblems.join("; ") || "none printed"})`);
    return { probes: lines.length, worstMs: times.length === 0 ? NaN : Math.max(...times), unanswered: failures.length, firstFailure: failures[0] ?? null, ping };
  }
}

/** PingFigures from JSON, where NaN was written as null. */
function readPing(json: string): PingFigures {
  const raw = JSON.parse(json) as Record<string, number | string | null>;
  const num = (key: string) => (typeof raw[key] === "number" ? (raw[key] as number) : NaN);
  return {
    sent: num("sent"),
    worstGapMs: num("worstGapMs"),
    p99GapMs: num("p99GapMs"),
    overLimit: num("overLimit"),
    limitMs: num("limitMs"),
    worstLatenessMs: num("worstLatenessMs"),
    failure: typeof raw.failure === "string" ? raw.failure : null,
  };
}

/** The worst gap of the 5 ms ping: `12.3 ms (2 over 20 ms)`, or why there is none. */
export function describePing(probe: ProbeSummary): string {
  const ping = probe.ping;
  if (ping === null) return "no figures";
  const over = ping.overLimit > 0 ? ` (${ping.overLimit} over ${ping.limitMs} ms)` : "";
  const failed = ping.failure === null ? "" : `; failed: ${ping.failure}`;
  // The probe's own timer firing late (a busy machine) is part of every gap it measures.
  const late = ping.worstLatenessMs > ping.limitMs ? `; probe's timer late by up to ${ping.worstLatenessMs.toFixed(0)} ms` : "";
  return `${Number.isFinite(ping.worstGapMs) ? `${ping.worstGapMs.toFixed(1)} ms` : "-"}${over}${late}${failed}`;
}

/** `yes: 52 probes, worst 3.1 ms` or `NO: 3 of 40 unanswered within 1 s (timeout); worst answered 12 ms`. */
export function describeProbe(probe: ProbeSummary): string {
  const worst = Number.isFinite(probe.worstMs) ? `${probe.worstMs.toFixed(1)} ms` : "-";
  if (probe.probes === 0) return "NO: no probe finished";
  if (probe.unanswered === 0) return `yes: ${probe.probes} probes, worst ${worst}`;
  return `NO: ${probe.unanswered} of ${probe.probes} unanswered within ${RESPONSIVE_MS / 1000} s (${probe.firstFailure}); worst answered ${worst}`;
}
