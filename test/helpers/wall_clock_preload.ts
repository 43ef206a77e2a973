/**
 * Preloaded into a spawned server (`bun --preload`, see ServerProcess's `wallClockFile` option) by
 * tests of what a wall clock that jumps does: `Date.now()` runs `offset` ms off the real clock, the
 * offset read (a number, in ms) from the file KESTREL_WALL_CLOCK_FILE at start and again on every
 * SIGUSR1; then `test wall clock: <offset> ms` goes to stderr, so the test can wait for the jump to
 * be in force. The machine's clock is never touched, nor the monotonic one.
 */
import { readFileSync } from "node:fs";

const file = process.env.KESTREL_WALL_CLOCK_FILE;
if (file === undefined) throw new Error("wall_clock_preload: KESTREL_WALL_CLOCK_FILE is not set");
const realNow = Date.now.bind(Date);
let offset = 0;
Date.now = () => realNow() + offset;

function load(): void {
  try {
    offset = Number(readFileSync(file!, "utf8")) || 0;
  } catch {
    offset = 0; // No file yet: the real time.
  }
  process.stderr.write(`test wall clock: ${offset} ms\n`);
}

load();
process.on("SIGUSR1", load);
