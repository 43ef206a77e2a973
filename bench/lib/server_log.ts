/**
 * Reading a Kestrel server's log for trouble: ERROR and WARN lines counted by message (numbers,
 * paths and ids folded so that one kind of event is one entry), and the lines that betray a bug
 * or a crash rather than a fault the server handled.
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

  /** Adds what one server process logged during `epoch`. */
  add(text: string, epoch: number): void {
    for (const line of text.split("\n")) {
      if (CRASH.test(line)) this.crashes.push(`epoch ${epoch}: ${line.slice(0, 300)}`);
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
