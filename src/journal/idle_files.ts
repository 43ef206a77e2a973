/**
 * Closes the descriptors of journal files nobody used for a while, so an idle queue holds no open
 * file: a server with 10,000 queues, most of them quiet, keeps open only the files in use.
 *
 * A file says it was used with `touch` (each time it needs its descriptor, which it reopens
 * itself when closed). Once a second, every file not touched since the previous round is asked
 * to `closeIfIdle`; one that can't close now (an fsync in flight, one owed) says so and is asked
 * again next round. The work is proportional to the files open, not to the queues.
 *
 * Invariant: a file is in `open` iff it may hold a descriptor; `forget` takes it out (it closed
 * for good), so nothing of a deleted queue is kept here.
 */

export interface IdleClosable {
  /** Closes the descriptor if nothing needs it now; false to be asked again later. */
  closeIfIdle(): boolean;
}

const ROUND_MS = 1000;

/** Each file that may hold a descriptor, and the round in which it was last used. */
const open = new Map<IdleClosable, number>();
let round = 0;
let timer: ReturnType<typeof setInterval> | null = null;

/** `file` is using its descriptor now. */
export function touch(file: IdleClosable): void {
  open.set(file, round);
  if (timer === null) {
    timer = setInterval(closeIdleFiles, ROUND_MS);
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

/** Closes every file not used since the last round (runs once a second). */
export function closeIdleFiles(): void {
  for (const [file, used] of open) {
    if (used < round && file.closeIfIdle()) open.delete(file);
  }
  round++;
  if (open.size === 0 && timer !== null) {
    clearInterval(timer);
    timer = null;
  }
}
