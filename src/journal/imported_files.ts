/**
 * queue_path/imported/: where an import keeps the Scala Kestrel files it converted, under their
 * own names, so that a migration can be rolled back (stop the server, move them back).
 *
 * A file gets here as a hard link first, while it stays in queue_path, and leaves queue_path only
 * once the converted journal is committed (kestrel_import.ts); so an original still in
 * queue_path that is the same file (device and inode) as the one of its name here is a leftover
 * of a committed import, and nothing else is. A name already taken here by another file (a
 * second import later) sends the whole import to `imported/2/`, the next to `imported/3/`, ...:
 * each directory holds one import's files and nothing is ever overwritten; the choice is the same
 * when an interrupted import is done again (its links count as free names). Nothing here is ever
 * read as a journal.
 */
import { join } from "node:path";
import { fileSystem, fsyncDirectory, removeQuietly, statExisting, type FileInfo } from "./files.ts";

export const IMPORTED_DIR = "imported";

const NUMBERED_DIR = /^[1-9]\d*$/;

/** The links an import made, to remove if it fails before its commit. */
export interface ImportLinks {
  readonly dir: string;
  readonly made: string[];
}

/**
 * Hard-links the files `names` of `queuePath` into the first import directory where each name
 * is free or already that file, and fsyncs it. Throws for I/O errors (and when `imported` is not
 * a directory), having removed the links it made.
 */
export function linkIntoImported(queuePath: string, names: readonly string[]): ImportLinks {
  const links: ImportLinks = { dir: chooseDirectory(queuePath, names), made: [] };
  try {
    if (fileSystem.stat(links.dir) === null) {
      fileSystem.mkdir(links.dir);
      fsyncDirectory(queuePath);
      fsyncDirectory(join(queuePath, IMPORTED_DIR));
    }
    for (const name of names) {
      const target = join(links.dir, name);
      if (fileSystem.stat(target) !== null) continue;
      fileSystem.link(join(queuePath, name), target);
      links.made.push(target);
    }
    fsyncDirectory(links.dir);
  } catch (error) {
    unlinkImported(links);
    throw error;
  }
  return links;
}

/** Removes the links `links` made (an import that failed before its commit). Never throws. */
export function unlinkImported(links: ImportLinks): void {
  for (const path of links.made) removeQuietly(path);
}

/**
 * Removes from `queuePath` each of `names` that is a leftover of a committed import (the same
 * file as its namesake in an import directory); returns those removed. Throws for I/O errors.
 */
export function removeImportedLeftovers(queuePath: string, names: readonly string[]): string[] {
  const dirs = names.length === 0 ? [] : importDirectories(queuePath);
  if (dirs.length === 0) return [];
  const leftovers = names.filter((name) => {
    const file = fileSystem.stat(join(queuePath, name));
    return file !== null && dirs.some((dir) => sameFile(fileSystem.stat(join(dir, name)), file));
  });
  for (const name of leftovers) fileSystem.remove(join(queuePath, name));
  if (leftovers.length > 0) fsyncDirectory(queuePath);
  return leftovers;
}

/** `imported/` or `imported/<n>/`, the first where every one of `names` is free or already the file of that name in `queuePath`. */
function chooseDirectory(queuePath: string, names: readonly string[]): string {
  for (let n = 1; ; n++) {
    const dir = n === 1 ? join(queuePath, IMPORTED_DIR) : join(queuePath, IMPORTED_DIR, String(n));
    const found = fileSystem.stat(dir);
    if (found === null) return dir;
    if (!found.isDirectory) throw new Error(`${dir} is not a directory; the Kestrel files being imported are kept there`);
    if (names.every((name) => isFreeFor(join(dir, name), join(queuePath, name)))) return dir;
  }
}

function isFreeFor(target: string, source: string): boolean {
  const there = fileSystem.stat(target);
  return there === null || sameFile(there, statExisting(source));
}

/** The import directories that exist: `imported/` and its numbered subdirectories. */
function importDirectories(queuePath: string): string[] {
  const base = join(queuePath, IMPORTED_DIR);
  if (fileSystem.stat(base)?.isDirectory !== true) return [];
  const numbered = fileSystem.readdir(base).filter((entry) => entry.isDirectory && NUMBERED_DIR.test(entry.name));
  return [base, ...numbered.map((entry) => join(base, entry.name))];
}

function sameFile(a: FileInfo | null, b: FileInfo): boolean {
  return a !== null && a.dev === b.dev && a.ino === b.ino;
}
