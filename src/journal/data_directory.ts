/**
 * queue_path as a whole: journals at the top level, the server's own files in `.kestrel/` (a name
 * no queue can take, since queue names never start with a dot), and opening it at start-up.
 *
 *   <queue>, <queue>.<seq>, ...   journal segments (segment_files.ts)
 *   .kestrel/lock                 the server that owns the directory (directory_lock.ts)
 *   .kestrel/quarantine/          bytes recovery cut out of damaged journals (quarantine.ts)
 *
 * Opening creates the directories, moves the files of the older layout (`.lock` and
 * `quarantine/` at the top level, where a queue called `quarantine` collided with them) into
 * `.kestrel/`, takes the lock, renames the journal of a queue whose name is now reserved
 * (`imported`, queue_name.ts) to the file name it maps to, deletes leftover temp files, lists the
 * journals and finds out whether the file system tells names apart by case. A queue whose
 * files include one that is also another queue's (a hard link) is blocked: serving both would hand
 * out the same items twice. A journal deleted meanwhile (an `rm -rf` racing the start) is left to
 * the queue's own opening. Throws only for I/O errors and a directory another live server holds.
 */
import { join } from "node:path";
import { errorText } from "../errors.ts";
import { log } from "../log.ts";
import { DirectoryLock, clearStaleLock } from "./directory_lock.ts";
import { fileSystem, fsyncDirectory, statExisting } from "./files.ts";
import { RESERVED_FILE_NAMES, compareNames, queueFileName } from "../queue_name.ts";
import { activePath, journalFilePaths, listJournalFiles, type DirectoryListing, type QueueFiles } from "./segment_files.ts";

export const SERVER_DIR = ".kestrel";
const LOCK_FILE = "lock";
export const QUARANTINE_DIR = "quarantine";
const LEGACY_LOCK = ".lock";

/** Where the server keeps its file `name` in `queuePath`. */
export function serverFilePath(queuePath: string, name: string): string {
  return join(queuePath, SERVER_DIR, name);
}

export interface DataDirectory {
  readonly lock: DirectoryLock;
  readonly listing: DirectoryListing;
  /** File names that differ only in case name one file here (macOS, Windows shares, casefold ext4). */
  readonly caseInsensitive: boolean;
}

export function openDataDirectory(queuePath: string): DataDirectory {
  fileSystem.mkdir(serverFilePath(queuePath, ""));
  // A server of the older layout holds `.lock`: it must not be running either.
  clearStaleLock(join(queuePath, LEGACY_LOCK), queuePath);
  const lock = new DirectoryLock(serverFilePath(queuePath, LOCK_FILE), queuePath);
  try {
    try {
      migrateQuarantine(queuePath);
    } catch (error) {
      log.error(`could not move ${join(queuePath, QUARANTINE_DIR)} into ${SERVER_DIR}/: ${errorText(error)}`);
    }
    migrateReservedNames(queuePath);
    const listing = scanDataDirectory(queuePath);
    for (const name of listing.temps) {
      fileSystem.remove(join(queuePath, name));
      log.info(`removed ${name}, left over from an interrupted journal write`);
    }
    for (const name of listing.others) log.debug(`ignoring ${join(queuePath, name)}: not a journal file`);
    return { lock, listing, caseInsensitive: isCaseInsensitive(queuePath) };
  } catch (error) {
    lock.release();
    throw new Error(`could not read queue_path ${queuePath}: ${errorText(error)}`, { cause: error });
  }
}

/**
 * The journal of queue `name` if its files are already in `queuePath` (copied in, or left by a
 * delete that could not finish), to be loaded rather than appended to; or why it must not be.
 * One stat when there is none. Throws for I/O errors.
 */
export function journalOf(queuePath: string, name: string): { readonly files: QueueFiles | null; readonly blocked: string | null } {
  if (fileSystem.stat(activePath(queuePath, name)) === null) return { files: null, blocked: null };
  const scan = scanDataDirectory(queuePath);
  return { files: scan.queues.get(name) ?? null, blocked: scan.blocked.get(name) ?? null };
}

/** Deletes the files of queue `name` listed in `files`, oldest first. Throws the first error, after trying them all. */
export function removeJournalFiles(queuePath: string, name: string, files: QueueFiles): void {
  const errors: unknown[] = [];
  for (const path of journalFilePaths(queuePath, name, files)) {
    try {
      fileSystem.remove(path);
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw errors[0];
}

/** The journals in `queuePath`, with the queues that must not be loaded and why. Throws for I/O errors. */
export function scanDataDirectory(queuePath: string): DirectoryListing {
  const listing = listJournalFiles(queuePath);
  blockSharedFiles(queuePath, listing);
  return listing;
}

/**
 * Blocks every queue one of whose files is also a file of a queue listed before it. A file gone
 * since the listing (deleted under the server, an `rm -rf` racing its start) is no one's: its
 * queue is opened (or rebuilt) as the journal's own checks see fit.
 */
function blockSharedFiles(queuePath: string, listing: DirectoryListing): void {
  const owners = new Map<string, string>();
  for (const [queue, files] of [...listing.queues].sort(([a], [b]) => compareNames(a, b))) {
    for (const path of journalFilePaths(queuePath, queue, files)) {
      const file = fileSystem.stat(path);
      if (file === null) continue;
      const key = `${file.dev}:${file.ino}`;
      const owner = owners.get(key);
      if (owner === undefined) {
        owners.set(key, path);
        continue;
      }
      listing.blocked.set(queue, `${path} is the same file as ${owner} (a hard link); serving both would hand out items twice`);
      listing.queues.delete(queue);
      break;
    }
  }
}

/**
 * Whether `.KESTREL` in `queuePath` is the server's own `.kestrel` (not merely a directory of that
 * name). `.kestrel` is made again if it was removed since the start made it (an `rm -rf` racing
 * the start; the upkeep puts the lock back).
 */
function isCaseInsensitive(queuePath: string): boolean {
  fileSystem.mkdir(serverFilePath(queuePath, ""));
  const upper = fileSystem.stat(join(queuePath, SERVER_DIR.toUpperCase()));
  const own = statExisting(serverFilePath(queuePath, ""));
  return upper !== null && upper.dev === own.dev && upper.ino === own.ino;
}

/** Moves the files of an older layout's `quarantine/` into `.kestrel/quarantine/`. */
function migrateQuarantine(queuePath: string): void {
  const old = join(queuePath, QUARANTINE_DIR);
  if (fileSystem.stat(old)?.isDirectory !== true) return;
  const target = serverFilePath(queuePath, QUARANTINE_DIR);
  fileSystem.mkdir(target);
  const names = fileSystem.readdir(old).map((entry) => entry.name);
  for (const name of names) {
    const to = join(target, fileSystem.stat(join(target, name)) === null ? name : `${name}.migrated`);
    fileSystem.rename(join(old, name), to);
  }
  fsyncDirectory(target);
  fileSystem.removeDirectory(old);
  fsyncDirectory(queuePath);
  log.info(`moved ${names.length} quarantined file(s) from ${old} to ${target}`);
}

/**
 * Renames the journal files of a queue named like a reserved name (`imported`, written by a version
 * that did not reserve it) to the file names that queue maps to now, so it is loaded as before.
 * A directory of that name is the data directory's own and is left alone. Throws for I/O errors.
 */
function migrateReservedNames(queuePath: string): void {
  let moved = 0;
  for (const entry of fileSystem.readdir(queuePath)) {
    const [base = "", ...suffix] = entry.name.split(".");
    if (!entry.isFile || !RESERVED_FILE_NAMES.includes(base.toLowerCase())) continue;
    if (suffix.length > 0 && !/^\d+(\.pack)?$/.test(suffix.join("."))) continue;
    const to = [queueFileName(base), ...suffix].join(".");
    if (fileSystem.stat(join(queuePath, to)) !== null) continue;
    fileSystem.rename(join(queuePath, entry.name), join(queuePath, to));
    log.info(`renamed ${entry.name} to ${to}: '${base}' is now a reserved file name, and queue '${base}' keeps its journal there`);
    moved++;
  }
  if (moved > 0) fsyncDirectory(queuePath);
}
