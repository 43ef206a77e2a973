/**
 * Finding a Scala Kestrel journal among a queue's files, and which of its files Kestrel 2.4 replays
 * at start-up, in what order (Journal.scala: `replay`, `journalsForQueue`,
 * `archivedFilesForQueue`, `cleanUpPackedFiles`):
 *
 * Kestrel names a queue's files after its name itself (where our file name escapes a character,
 * they differ):
 *
 *   <queue>              the current file, replayed last (Kestrel 1.x has only this one)
 *   <queue>.<ms>         a rotated file (2.x), replayed before it, oldest timestamp first
 *   <queue>.<ms>.pack    a finished pack (2.x): it holds the state of every file up to its
 *                        timestamp, so the rotated files with a timestamp up to its own are not
 *                        replayed (Kestrel deletes them) and it is replayed in their place; packs
 *                        are applied lowest timestamp first, so only the newest one counts
 *   <queue>~~<...>       a temp file (a pack or rewrite being written; 1.x's roll): never replayed
 *                        (2.x deletes them, 1.x ignores them)
 *
 * Whose journal it is: a queue is Kestrel's when none of its files starts with our file magic
 * (or is ours with a damaged header) and it has a non-empty current file or any rotated or
 * packed file of Kestrel's. Reading stops at the current file when that is ours: the common case costs no
 * reads beyond the replay's own. Never touches the files.
 */
import { basename, join } from "node:path";
import { closeQuietly, fileSystem, readFully } from "./files.ts";
import { hasFileMagic } from "./record.ts";
import { scanJournal } from "./scan.ts";
import { activePath, packPath, sealedPath, type QueueFiles } from "./segment_files.ts";

/** A queue's Kestrel journal: every file of it (names in queue_path), and those replayed, in order. */
export interface KestrelJournal {
  readonly files: readonly string[];
  readonly replayed: readonly string[];
}

const MAGIC_BYTES = 8;
const TIMED = /^\.(\d+)(\.pack)?$/;

/**
 * The Kestrel journal among the files of queue `name` (`active`: the bytes of its current file,
 * if there is one), or null when they are this server's own journal (or no journal yet). Throws
 * only for I/O errors.
 */
export function kestrelJournalOf(dir: string, name: string, files: QueueFiles, active: Uint8Array | null, now: number): KestrelJournal | null {
  if (active !== null && active.length > 0 && (hasFileMagic(active) || scanJournal(active, now, {}).format === "current")) return null;
  const numbered = [...files.sealed.map((seq) => sealedPath(dir, name, seq)), ...files.packs.map((seq) => packPath(dir, name, seq))].map((path) => basename(path));
  if (numbered.some((file) => startsWithMagic(join(dir, file)))) return null;
  const all = [...(files.hasActive ? [basename(activePath(dir, name))] : []), ...numbered, ...files.kestrel];
  const replayed = replayOrder(name, all);
  const current = all.includes(name) ? fileSystem.stat(join(dir, name)) : null;
  if (replayed.every((file) => file === name) && (current?.size ?? 0) === 0) return null;
  return { files: all, replayed };
}

/** The files of `names` (a queue's, in queue_path) Kestrel 2.4 replays, in its order. */
export function replayOrder(queue: string, names: readonly string[]): string[] {
  let timed = names
    .map((file) => ({ file, match: file.startsWith(queue) ? TIMED.exec(file.slice(queue.length)) : null }))
    .filter(({ match }) => match !== null)
    .map(({ file, match }) => ({ file, timestamp: BigInt(match![1]!), isPack: match![2] !== undefined }))
    .sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.file < b.file ? -1 : 1));
  for (let pack = timed.find((entry) => entry.isPack); pack !== undefined; pack = timed.find((entry) => entry.isPack)) {
    const done = pack;
    timed = timed.filter((entry) => entry === done || entry.isPack || entry.timestamp > done.timestamp);
    timed[timed.indexOf(done)] = { ...done, isPack: false };
  }
  return [...timed.map((entry) => entry.file), ...(names.includes(queue) ? [queue] : [])];
}

function startsWithMagic(path: string): boolean {
  const fd = fileSystem.open(path, "r");
  try {
    return hasFileMagic(readFully(fd, new Uint8Array(MAGIC_BYTES), MAGIC_BYTES, 0));
  } finally {
    closeQuietly(fd);
  }
}
