/**
 * Converting a queue's Scala Kestrel journal to this server's format, once: its files are
 * replayed as Kestrel replays them (kestrel_files.ts says which and in what order,
 * legacy_replay.ts what each record means), the queue they describe is written as our journal,
 * and the original files move to queue_path/imported/ (imported_files.ts).
 *
 * Crash safety: a crash (or a failed step) at any point leaves either the originals in place and
 * no journal of ours (the next start imports again), or our journal complete:
 *   1. replay; write the items to a temp file, fsynced (a leftover temp file is deleted at start);
 *   2. hard-link every original into imported/, fsynced: the originals stay where they are;
 *   3. commit: rename the temp file to `<queue>` (over Kestrel's current file, whose other name
 *      is now in imported/), fsync queue_path;
 *   4. remove the other originals from queue_path, fsync.
 * Before 3, `<queue>` is Kestrel's or absent: the import is done again, reusing the links of 2.
 * After 3 it is ours, and an original still in queue_path is the same file as its link in
 * imported/: the next start removes it (`removeImportedLeftovers`). A failure before 3 removes
 * the temp file and the links made and throws; after the rename of 3 it never removes a link:
 * the directory fsync failing throws (the next open finds our journal), a removal failing in 4
 * is logged and left to the next start.
 *
 * Damage in a Kestrel file ends that file where it starts, as in Kestrel (the rest of the file
 * is not replayed; the next file is); the bytes cut are quarantined once the import is committed
 * (the whole original is in imported/ anyway). Every item is held in memory during the import.
 */
import { basename, join } from "node:path";
import { errorText } from "../errors.ts";
import { log } from "../log.ts";
import { fileSystem, fsyncDirectory, moveIntoPlace, removeQuietly, tempPathFor, writeNewFile } from "./files.ts";
import type { Item } from "./item.ts";
import { linkIntoImported, removeImportedLeftovers, unlinkImported } from "./imported_files.ts";
import type { KestrelJournal } from "./kestrel_files.ts";
import { KestrelReplayer } from "./legacy_replay.ts";
import { encodeJournalFile } from "./pack.ts";
import { DamageReport } from "./replay_report.ts";
import { ReplayState } from "./replay_state.ts";
import { scanJournal, type ScanSummary } from "./scan.ts";
import { activePath, packPath, sealedPath, type QueueFiles } from "./segment_files.ts";

/** A damaged file met during the replay, reported once the import is committed. */
interface DamagedFile {
  readonly path: string;
  readonly bytes: Uint8Array;
  readonly summary: ScanSummary;
}

/**
 * Imports the Kestrel journal `journal` of queue `name` in `dir`; afterwards `<name>` is our
 * journal holding the queue Kestrel would serve, and nothing else of it is in `dir`. Throws for
 * I/O errors and for a file that turns out not to be Kestrel's, with nothing changed.
 */
export function importKestrelJournal(dir: string, name: string, journal: KestrelJournal, now: number): void {
  const { items, records, damaged } = replayKestrelFiles(dir, journal.replayed, now);
  const temp = tempPathFor(activePath(dir, name));
  writeNewFile(temp, encodeJournalFile(items.map((item) => ({ item, open: false }))));
  let links;
  try {
    links = linkIntoImported(dir, journal.files);
  } catch (error) {
    removeQuietly(temp);
    throw error;
  }
  try {
    moveIntoPlace(temp, activePath(dir, name));
  } catch (error) {
    unlinkImported(links);
    throw error;
  }
  // Committed: from here on the links are the only other names of the originals.
  fsyncDirectory(dir);
  removeOriginals(dir, name, journal.files);
  const report = new DamageReport(dir, name);
  for (const file of damaged) report.add(file.path, file.bytes, file.summary, now);
  report.log(records, items.length);
  log.info(
    `queue '${name}': imported the Kestrel journal (${journal.replayed.join(", ")}: ${records} records) as ${items.length} item(s); ` +
      `its ${journal.files.length} file(s) were moved to ${links.dir}`,
  );
}

/**
 * The files of a queue whose journal is ours, once the Kestrel files a committed import left in
 * `dir` are removed; other Kestrel files there are not part of it (logged, left alone). Throws
 * for I/O errors.
 */
export function withoutImportLeftovers(dir: string, name: string, files: QueueFiles): QueueFiles {
  const named = (seq: number, path: (dir: string, queue: string, seq: number) => string) => basename(path(dir, name, seq));
  const removed = new Set(removeImportedLeftovers(dir, [...files.kestrel, ...files.sealed.map((seq) => named(seq, sealedPath)), ...files.packs.map((seq) => named(seq, packPath))]));
  if (removed.size > 0) log.info(`queue '${name}': removed ${[...removed].join(", ")}, already moved to imported/ by an import a restart interrupted`);
  const foreign = files.kestrel.filter((file) => !removed.has(file));
  if (foreign.length > 0) log.warn(`queue '${name}': ignoring ${foreign.join(", ")}: Scala Kestrel files beside this queue's own journal, not imported (move them away)`);
  return {
    sealed: files.sealed.filter((seq) => !removed.has(named(seq, sealedPath))),
    packs: files.packs.filter((seq) => !removed.has(named(seq, packPath))),
    hasActive: files.hasActive,
    kestrel: [],
  };
}

/** The queue Kestrel would serve after replaying `files` (names in `dir`), its items numbered from 1. */
function replayKestrelFiles(dir: string, files: readonly string[], now: number): { items: Item[]; records: number; damaged: DamagedFile[] } {
  const state = new ReplayState();
  const replayer = new KestrelReplayer(state);
  const damaged: DamagedFile[] = [];
  let records = 0;
  for (const file of files) {
    const path = join(dir, file);
    const bytes = fileSystem.readFile(path);
    const summary = scanJournal(bytes, now, { kestrel: (record) => replayer.apply(record) });
    if (summary.format === "current") throw new Error(`${path} is a file of this server's format among Kestrel's; not imported`);
    records += summary.records;
    if (summary.damage.length > 0) damaged.push({ path, bytes, summary });
  }
  replayer.finish();
  const items = state.items().map((item, index) => ({ ...item, id: index + 1 }));
  return { items, records, damaged };
}

/** Step 4: the originals other than the one the commit replaced leave `dir`. Logs a failure: the next start finishes it. */
function removeOriginals(dir: string, name: string, files: readonly string[]): void {
  const converted = basename(activePath(dir, name));
  try {
    for (const file of files) if (file !== converted) fileSystem.remove(join(dir, file));
    fsyncDirectory(dir);
  } catch (error) {
    log.warn(`queue '${name}': could not remove an imported Kestrel file from ${dir} (it is in imported/ too; removed at the next start): ${errorText(error)}`);
  }
}
