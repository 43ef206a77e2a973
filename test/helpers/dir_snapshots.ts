/**
 * Crashes at every step of a change to the journal files, simulated: copies of a data directory
 * taken before each file-system call that changes what is in it (a rename, a delete, an open for
 * writing, a background delete), as a kill -9 right then would leave it, and what a start on such
 * a copy serves.
 *
 * Invariant: `fileSystem` is as it was once `snapshotsAround` settles, whatever `change` did.
 */
import { backgroundRemovals } from "../../src/journal/deferred_removal.ts";
import { fileSystem } from "../../src/journal/files.ts";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { text } from "./bytes.ts";
import { configFor } from "./config.ts";
import { copyDataDir } from "./temp_dir.ts";

/**
 * Runs `change` (and waits for it, then for the background deletes it started) with a copy of
 * `dir` taken before every call that changes what is in it; returns the copies, and one of the end.
 */
export async function snapshotsAround(dir: string, change: () => Promise<void> | void): Promise<string[]> {
  const snapshots: string[] = [];
  const real = { rename: fileSystem.rename, remove: fileSystem.remove, open: fileSystem.open, removeAsync: fileSystem.removeAsync };
  const snapshot = () => void snapshots.push(copyDataDir(dir));
  fileSystem.rename = (from, to) => (snapshot(), real.rename(from, to));
  fileSystem.remove = (path) => (snapshot(), real.remove(path));
  fileSystem.open = (path, flags, mode) => (flags === "r" ? undefined : snapshot(), real.open(path, flags, mode));
  fileSystem.removeAsync = (path, done) => (snapshot(), real.removeAsync(path, done));
  try {
    await change();
    await backgroundRemovals();
  } finally {
    Object.assign(fileSystem, real);
  }
  snapshot();
  return snapshots;
}

/** The numbers (items `<n>:...`) a start on `copy` with `config` (TOML) serves from queue q, in order. */
export function drainCopy(copy: string, config: string): number[] {
  const queues = QueueCollection.load(configFor(copy, config));
  const queue = queues.getOrCreate("q");
  const out: number[] = [];
  for (let item = queue.remove(Date.now()); item !== undefined; item = queue.remove(Date.now())) out.push(Number(text(item.data).split(":")[0]));
  queues.close();
  return out;
}
