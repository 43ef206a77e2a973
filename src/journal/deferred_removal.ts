/**
 * Journal files no longer needed, deleted off the event loop rather than in the turn that let
 * them go: unlinking a segment frees its blocks and cached pages there and then (73 ms for 138 MB
 * of segments; one 16 MiB segment written a moment before took 8-80 ms), so a flush, delete or
 * journal switch that deleted a big journal at once, or an upkeep deleting a drained queue's
 * consumed segments, left the server serving nobody that long (issue 9).
 *
 * A file is first moved aside (`moveAside`: renamed to a temp name beside it, cheap, nothing
 * freed): its name is free at once for a new file, replay never reads it, and start-up deletes
 * any temp file left by a crash. `removeInBackground` then deletes such temp files one after
 * another on the thread pool (fileSystem.removeAsync), one at a time so the journal's own fsyncs
 * there never wait behind a row of unlinks.
 *
 * Invariants: only temp files are deleted in the background (nothing reads them; a name given to
 * a new file meanwhile is never touched); each path handed over is deleted once, in the order
 * given, or left for start-up if that fails; at most one removal per call is in flight.
 */
import { fileSystem, tempPathFor } from "./files.ts";

/**
 * Renames the file at `path` to a temp name beside it and returns that, or null if there is no
 * such file. Throws for I/O errors, and for something else at `path` (a directory is not ours to
 * move: `remove` refuses it, as it always did).
 */
export function moveAside(path: string): string | null {
  const file = fileSystem.stat(path);
  if (file === null) return null;
  if (!file.isFile) {
    fileSystem.remove(path);
    return null;
  }
  // A name not taken: the same path moved aside twice in a millisecond (a queue deleted, made again and deleted) gets two.
  let temp = tempPathFor(path);
  for (let n = 1; fileSystem.stat(temp) !== null; n++) temp = tempPathFor(`${path}.${n}`);
  fileSystem.rename(path, temp);
  return temp;
}

/**
 * Moves the file at `path` aside (`moveAside`), noting the temp path in `paths`; if it can't be
 * renamed, deletes it at once instead (in the turn: freeing its blocks may take a while, but it
 * goes). Throws the delete's error if that fails too.
 */
export function moveAsideOrRemove(path: string, paths: string[]): void {
  try {
    movingAsideInto(paths)(path);
  } catch {
    fileSystem.remove(path);
  }
}

/**
 * `moveAsideOrRemove` for each of `paths`, noting the temp paths in `aside`; tries them all.
 * Returns the paths still there (neither moved nor deleted) and their errors, in order.
 */
export function moveAllAside(paths: readonly string[], aside: string[]): { readonly left: string[]; readonly errors: unknown[] } {
  const left: string[] = [];
  const errors: unknown[] = [];
  for (const path of paths) {
    try {
      moveAsideOrRemove(path, aside);
    } catch (error) {
      left.push(path);
      errors.push(error);
    }
  }
  return { left, errors };
}

/** Moves each file it is given aside (`moveAside`), noting the temp path in `paths`. Throws for I/O errors. */
export function movingAsideInto(paths: string[]): (path: string) => void {
  return (path) => {
    const temp = moveAside(path);
    if (temp !== null) paths.push(temp);
  };
}

/**
 * Deletes `paths` (temp files nothing reads) one after another off the event loop; `done`, if
 * given, is called once the last was tried. A file that can't be deleted is left for start-up.
 */
export function removeInBackground(paths: readonly string[], done: () => void = () => {}): void {
  let next = 0;
  const removeNext = (): void => {
    if (next < paths.length) return fileSystem.removeAsync(paths[next++]!, removeNext);
    if (--running === 0) for (const resolve of idle.splice(0)) resolve();
    done();
  };
  running++;
  removeNext();
}

/**
 * Counts a removal that starts later (a journal being retired over turns, retire_task.ts) as under
 * way until the returned function is called, so `backgroundRemovals` waits for it too.
 */
export function removalUnderWay(): () => void {
  running++;
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    if (--running === 0) for (const resolve of idle.splice(0)) resolve();
  };
}

/** Runs of `removeInBackground` (and removals under way) not through yet, and who waits for none to be. */
let running = 0;
const idle: (() => void)[] = [];

/** Resolves once no background removal (nor a retire, see `removalUnderWay`) is under way (now, if none is): a test waits on it instead of counting turns. */
export function backgroundRemovals(): Promise<void> {
  if (running === 0) return Promise.resolve();
  return new Promise((resolve) => idle.push(resolve));
}
