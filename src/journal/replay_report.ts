/**
 * What a queue's replay tells the log: one line for all the damage found in its segments (ranges
 * quarantined, records lost with segments missing or cut short) and, for long replays, progress
 * and speed. Quarantines the damaged bytes as it goes (quarantine.ts); otherwise only logs.
 */
import { log } from "../log.ts";
import { quarantine, quarantineDirectory } from "./quarantine.ts";
import { estimateRecords, type Damage, type ScanSummary } from "./scan.ts";
import type { ChainBreak } from "./segment_chain.ts";

const PROGRESS_EVERY_MS = 2000;

/** Collects the damage of a queue's segments and logs it as one line. */
export class DamageReport {
  private readonly ranges: string[] = [];
  private quarantined = 0;
  private files = 0;
  private dropped = 0;
  private readonly gaps: string[] = [];
  private lostRecords = 0;
  private removedAgain = 0;

  constructor(
    private readonly dir: string,
    private readonly name: string,
  ) {}

  add(path: string, bytes: Uint8Array, summary: ScanSummary, now: number): void {
    this.files += quarantine(this.dir, this.name, bytes, summary.damage, new Date(now)).length;
    for (const range of summary.damage) {
      this.quarantined += range.end - range.start;
      this.dropped += estimateRecords(bytes, range, summary.format, now);
      this.ranges.push(`${path.slice(this.dir.length + 1)}@${describe(range)}`);
    }
  }

  /** Records lost with a segment missing or cut short; `removedAgain` items they had removed were dropped again. */
  missing(lost: ChainBreak, removedAgain: number): void {
    this.gaps.push(lost.description);
    this.lostRecords += lost.records;
    this.removedAgain += removedAgain;
  }

  log(recordsKept: number, items: number): void {
    if (this.ranges.length === 0 && this.gaps.length === 0) return;
    const parts = [`journal damaged; kept ${recordsKept} records (${items} items)`];
    if (this.ranges.length > 0) {
      parts.push(
        `dropped about ${this.dropped} records in ${this.ranges.length} damaged range(s) at ${this.ranges.join(", ")}`,
        `quarantined ${this.quarantined} bytes in ${this.files} file(s) under ${quarantineDirectory(this.dir)}`,
      );
    }
    if (this.gaps.length > 0) parts.push(`${this.lostRecords} records lost: ${this.gaps.join(", ")}`);
    if (this.removedAgain > 0) parts.push(`${this.removedAgain} item(s) those records had removed were dropped again`);
    log.warn(`queue '${this.name}': ${parts.join("; ")}`);
  }
}

function describe(range: Damage): string {
  return `${range.start}-${range.end} (${range.reason})`;
}

/**
 * Logs the progress of a long replay and its speed, in MiB/s and records/s. `total` (the bytes
 * to replay) is asked only when a progress line is logged: most queues replay too fast for one.
 */
export class ReplayProgress {
  private readonly started = performance.now();
  private lastReport = this.started;
  private bytes = 0;
  private records = 0;

  constructor(
    private readonly name: string,
    private readonly total: () => number,
  ) {}

  advance(bytes: number, records: number): void {
    this.bytes += bytes;
    this.records += records;
    const now = performance.now();
    if (now - this.lastReport < PROGRESS_EVERY_MS) return;
    this.lastReport = now;
    log.info(`queue '${this.name}': replayed ${mib(this.bytes)} of ${mib(this.total())} MiB (${this.speed(now)})`);
  }

  finish(): void {
    const now = performance.now();
    if (this.bytes < 16 * 1048576 && now - this.started < 1000) return;
    log.info(`queue '${this.name}': replayed ${mib(this.bytes)} MiB, ${this.records} records in ${((now - this.started) / 1000).toFixed(1)} s (${this.speed(now)})`);
  }

  private speed(now: number): string {
    const seconds = Math.max((now - this.started) / 1000, 0.001);
    return `${(this.bytes / 1048576 / seconds).toFixed(0)} MiB/s, ${Math.round(this.records / seconds)} records/s`;
  }
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(1);
}
