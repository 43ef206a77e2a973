/**
 * Closes the descriptors of journal files nobody used for a while, so an idle queue holds no open
 * file: a server with 10,000 queues, most of them quiet, keeps open only the files in use.
 *
 * A file says it was used with `touch` (each time it needs its descriptor, which it reopens
 * itself when closed). Once a second, every file not touched since the previous round is asked
 * to `closeIfIdle`; one that can't close now (an fsync in flight, one owed) says so and is asked
 * again next round. The work is proportional to the files open, not to the queues, and a round
 * closes files for at most SLICE_MS per event-loop turn, going on in the next (5,000 queues made
 * at once close 5,000 files a second later: 10 ms in one go).
 *
 * Past MAX_OPEN_FILES open at once (`crowded`), a journal closes its file as soon as a write
 * leaves it owing nothing (writer.ts): a set to a parent with 20,000 fanout children wrote 20,000
 * files within a second, each kept open until the next round, and took every descriptor the
 * process had (new clients refused, journals failing with EMFILE).
 *
 * A file whose `closeIfIdle` throws (a bug) is logged once (`internal error closing an idle journal
 * file`) and stays in `open`, asked again next round, as one that can't close now is; the round
 * goes on with the others. (Left to a throw, the round would never have ended: no later round,
 * and every idle file kept open.)
 *
 * Invariant: a file is in `open` iff it may hold a descriptor; `forget` takes it out (it closed
 * for good), so nothing of a deleted queue is kept here.
 */
import { runGuardedWith } from "../guarded.ts";

export interface IdleClosable {
  /** Closes the descriptor if nothing needs it now; false to be asked again later. */
  closeIfIdle(): boolean;
}

const ROUND_MS = 1000;
const SLICE_MS = 2;
/** Journal files kept open at most before each closes right after its write. */
export const MAX_OPEN_FILES = 2048;
/** What a file's bug is logged as. */
const CLOSING = "closing an idle journal file";

/** Each file that may hold a descriptor, and the round in which it was last used. */
const open = new Map<IdleClosable, number>();
let round = 0;
let timer: ReturnType<typeof setInterval> | null = null;
/** The round under way, where it stopped (a Map's iterator goes on past entries deleted meanwhile). */
let pass: MapIterator<[IdleClosable, number]> | null = null;

/** `file` is using its descriptor now. */
export function touch(file: IdleClosable): void {
  open.set(file, round);
  if (timer === null) {
    timer = setInterval(closeIdleFilesInTurns, ROUND_MS);
    timer.unref();
  }
}

/** `file` closed its descriptor itself (for good, or until it next touches). */
export function forget(file: IdleClosable): void {
  open.delete(file);
}

/** How many files may hold a descriptor now (for stats and tests). */
export function openFileCount(): number {
  return open.size;
}

/** More than MAX_OPEN_FILES files hold descriptors: one done with its write should close now. */
export function crowded(): boolean {
  return open.size > MAX_OPEN_FILES;
}

/** Closes every file not used since the last round, now (a round under way is finished). */
export function closeIdleFiles(): void {
  closeUntil(Infinity);
}

/** What runs once a second: a round, SLICE_MS per turn (nothing if the last one is still going). */
export function closeIdleFilesInTurns(): void {
  if (pass !== null) return;
  pass = open.entries();
  goOn();
}

function goOn(): void {
  if (pass === null) return; // finished meanwhile, by closeIdleFiles
  if (!closeUntil(performance.now() + SLICE_MS)) setImmediate(goOn);
}

/** Goes on with the round until `until` (performance.now()); true once it is over. */
function closeUntil(until: number): boolean {
  pass ??= open.entries();
  for (const entry of pass) {
    runGuardedWith(CLOSING, closeIfUnused, entry);
    if (performance.now() >= until) return false;
  }
  pass = null;
  round++;
  if (open.size === 0 && timer !== null) {
    clearInterval(timer);
    timer = null;
  }
  return true;
}

/** Closes the file of `entry` if it was not used this round and can close now. */
function closeIfUnused([file, used]: [IdleClosable, number]): void {
  if (used < round && file.closeIfIdle()) open.delete(file);
}
