/**
 * Reading a Kestrel server's log: ERROR and WARN lines counted by message (numbers, paths and ids
 * folded so that one kind of event is one entry), the lines that betray a bug or a crash rather
 * than a fault the server handled, and the figures of a start (when it listened, its replay lines).
 *
 * Everything here reads text it is given and never throws; a log that streams in chunks goes
 * through `LineSplitter` first, so no line is ever read in two halves.
 */

/** Lines that mean a bug or a crash: a command that threw, an uncaught error, a native fault. */
const CRASH = /internal error|uncaught|unhandled|Maximum call stack|TypeError|RangeError|ReferenceError|SyntaxError|panic|Segmentation fault|out of memory/i;
const LEVEL = /^\S+ (ERROR|WARN)\s+(.*)$/;

export class LogSummary {
  errors = 0;
  warnings = 0;
  /** Folded message -> count, for ERROR and WARN lines. */
  readonly kinds = new Map<string, number>();
  /** Crash lines as logged, each with the epoch it came from. */
  readonly crashes: string[] = [];

  /** Adds whole lines one server process logged (during `epoch`, if the caller counts them). */
  add(text: string, epoch?: number): void {
    for (const line of text.split("\n")) {
      if (CRASH.test(line)) this.crashes.push(`${epoch === undefined ? "" : `epoch ${epoch}: `}${line.slice(0, 300)}`);
      const match = LEVEL.exec(line);
      if (match === null) continue;
      if (match[1] === "ERROR") this.errors++;
      else this.warnings++;
      const kind = `${match[1]} ${fold(match[2]!)}`;
      this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + 1);
    }
  }
}

/** The message with what varies from one occurrence to the next (paths, numbers) replaced. */
function fold(message: string): string {
  return message
    .replace(/\/\S+/g, "<path>")
    .replace(/\d+/g, "N")
    .slice(0, 200);
}

/** Cuts text that arrives in chunks at line ends, keeping the unfinished last line for later. */
export class LineSplitter {
  private partial = "";

  /** The whole lines completed by `chunk` (each with its newline), or "" when none was. */
  push(chunk: string): string {
    const end = chunk.lastIndexOf("\n") + 1;
    if (end === 0) {
      this.partial += chunk;
      return "";
    }
    const lines = this.partial + chunk.slice(0, end);
    this.partial = chunk.slice(end);
    return lines;
  }
}

/** A queue's replay summary line: `queue '<q>': replayed N MiB, R records in S s (X MiB/s, Y records/s)`. */
export interface ReplayLine {
  readonly queue: string | null;
  readonly mib: number;
  /** Null in the older line, `replayed N MiB in S s (X MiB/s)`, which has no record count. */
  readonly records: number | null;
  readonly seconds: number;
  readonly mibPerSecond: number;
  readonly recordsPerSecond: number | null;
}

const REPLAYED = /(?:queue '([^']*)': )?replayed ([\d.]+) MiB(?:, (\d+) records)? in ([\d.]+) s \(([\d.]+) MiB\/s(?:, ([\d.]+) records\/s)?\)/g;

/** Every replay summary line in `log`, in either format, in order (progress lines are not summaries). */
export function replayLines(log: string): ReplayLine[] {
  const number = (text: string | undefined) => (text === undefined ? null : Number(text));
  return Array.from(log.matchAll(REPLAYED), (m) => ({
    queue: m[1] ?? null,
    mib: Number(m[2]),
    records: number(m[3]),
    seconds: Number(m[4]),
    mibPerSecond: Number(m[5]),
    recordsPerSecond: number(m[6]),
  }));
}

/** `N MiB, R records in S s (X MiB/s, Y records/s)`, without the parts the line did not have. */
export function describeReplay(r: ReplayLine): string {
  const records = r.records === null ? "" : `, ${r.records} records`;
  const rate = r.recordsPerSecond === null ? "" : `, ${r.recordsPerSecond} records/s`;
  return `${r.mib} MiB${records} in ${r.seconds} s (${r.mibPerSecond} MiB/s${rate})`;
}

/** When a start's milestones happened, from the server's own log timestamps (ms resolution). */
export interface Startup {
  /** Spawn to the first log line (Bun starting, the config loading). */
  readonly firstLogMs: number;
  readonly listeningMs: number;
  /** The first replay summary line, if the server logged one. */
  readonly replay: ReplayLine | null;
}

/** The milestones of the start logged in `log`, as ms after `spawnedAt` (epoch ms); NaN for one not logged. */
export function startupTimes(log: string, spawnedAt: number): Startup {
  const stamp = (line: string | undefined) => (line === undefined ? NaN : Date.parse(line.split(" ", 1)[0]!) - spawnedAt);
  const lines = log.split("\n");
  return {
    firstLogMs: stamp(lines[0]),
    listeningMs: stamp(lines.find((line) => line.includes("listening on"))),
    replay: replayLines(log)[0] ?? null,
  };
}
