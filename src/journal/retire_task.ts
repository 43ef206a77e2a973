/**
 * A journal being retired (Journal.retire: its queue was deleted, or dropped its journal) with its
 * fsyncs off the event loop: on a disk whose fsync takes 10-50 ms, the four fsyncs a retire made
 * in the `delete`'s turn stalled every client for that long.
 *
 * In the retire's turn (no fsync there): the active file, its records written, is renamed to the
 * sealed segment `seq` (so every record of the journal is in a segment numbered up to `seq`, and
 * the queue's active file name is free), and an empty pack replacing every segment up to `seq` is
 * written and committed (renamed to `<queue>.<seq>.pack`): from here a start replays the old files
 * to nothing (the pack installs as an empty segment over them). Then, each step in the turn the
 * last fsync returned:
 * 1. the pack is fsynced, then the directory: the pack and its rename are on disk, and the commits
 *    of the old writer settle (`gone`: a power loss too replays the old files to nothing now);
 * 2. the old segments and packs are moved aside (temp names, deleted off the event loop by
 *    deferred_removal.ts), and the directory fsynced;
 * 3. the pack is deleted.
 * A crash or power loss at any point replays to the journal as it was (a power loss before 1's
 * directory fsync: its records as the sync policy had them on disk, nothing consumed coming back;
 * a pack whose rename reached the disk before its bytes installs as a damaged, empty segment) or
 * to nothing, never to an older state: no old file is moved aside before the pack's rename is on
 * disk, and the pack goes only once their moves are.
 *
 * The queue's name is free at once: a new journal of the same name may start while this runs. It
 * numbers its segments after `seq` and its items after the old journal's (`retiredFloor`, read by
 * open_journal.ts), so nothing here ever touches its files (every name here is numbered up to
 * `seq`), and should a crash come before step 1 is on disk, the old journal replays before it as
 * it was, its ids below the new ones.
 *
 * A step that fails (an fsync error, a rename refused) falls back to what `erase` does: every old
 * file still there moved aside at once, the pack deleted, the waiting commits settled (the queue is
 * gone); it is logged. A clean stop (`finishRetires`) does what is left at once, its fsyncs in the
 * turn, or falls back the same way: either way what is left replays to nothing after the stop.
 *
 * Invariants: a task ends once (done, or fallen back), and nothing it scheduled touches a file
 * after that; the floor of a name stays registered until its retire is done (or forever, if some of
 * its old files or its committed pack could not be taken away: a pack left replaces every segment
 * up to `seq` at the next start, a new journal's too were they numbered that low).
 */
import { errorText } from "../errors.ts";
import { log } from "../log.ts";
import type { Commit } from "./commit.ts";
import { moveAllAside, removalUnderWay, removeInBackground } from "./deferred_removal.ts";
import { syncDirectoryShared } from "./directory_sync.ts";
import { closeQuietly, fileSystem, fsyncDirectory, removeQuietly } from "./files.ts";
import type { WrittenPack } from "./pack.ts";
import { packPath } from "./segment_files.ts";

/** What a new journal of a retiring journal's name must start after: its segment number and item id. */
export interface RetiredFloor {
  readonly seq: number;
  readonly maxId: number;
}

/** What a retire takes over from its journal (see the header). */
export interface RetiredFiles {
  readonly dir: string;
  readonly name: string;
  /** Every old segment is numbered up to this; the pack replaces them up to it. */
  readonly seq: number;
  /** The highest item id in the old files. */
  readonly maxId: number;
  /** The old segments and packs (oldest first), the renamed active file among them. */
  readonly paths: readonly string[];
  /** The empty pack, written to its temp file (committed by `retireInTurns`), not yet synced. */
  readonly pack: WrittenPack;
  /** Settles durable once nothing of the old journal can come back (the old writer's commits wait for it). */
  readonly gone: Commit;
}

/** Retires under way, and floors of names still to be kept (a retire that could not take every old file away). */
const underWay = new Set<RetireTask>();
const floors = new Map<string, RetiredFloor[]>();

/** Where a new journal of queue `name` in `dir` must start: after every retire of that name not through, or null. */
export function retiredFloor(dir: string, name: string): RetiredFloor | null {
  const list = floors.get(floorKey(dir, name));
  if (list === undefined) return null;
  return { seq: Math.max(...list.map((floor) => floor.seq)), maxId: Math.max(...list.map((floor) => floor.maxId)) };
}

/** Starts retiring `files` over turns (see the header). Never throws. */
export function retireInTurns(files: RetiredFiles): void {
  new RetireTask(files).start();
}

/** A clean stop: every retire under way in `dir` does what is left now (see the header). Never throws. */
export function finishRetires(dir: string): void {
  for (const task of [...underWay]) if (task.dir === dir) task.finish();
}

function floorKey(dir: string, name: string): string {
  return `${dir}\0${name}`;
}

/** What the fsync under way is for: the pack's bytes, its rename, the old files' moves; or over. */
type Step = "pack" | "commit" | "moved" | "ended";

class RetireTask {
  private step: Step = "pack";
  /** An fsync off the event loop is under way; its answer is for step `step`. */
  private syncing = false;
  /** The pack's temp file is still open (its descriptor is closed once no fsync uses it). */
  private packOpen = true;
  /** The pack was renamed to its `.pack` name. */
  private committed = false;
  /** Old files not yet moved aside, and the temp names of those that were. */
  private readonly left: string[];
  private readonly aside: string[] = [];
  private readonly floor: RetiredFloor;
  private readonly packFile: string;
  /** Ends this retire's count as a removal under way (deferred_removal.ts `backgroundRemovals` waits for it). */
  private removalEnded: () => void = () => {};

  constructor(private readonly files: RetiredFiles) {
    this.left = [...files.paths];
    this.floor = { seq: files.seq, maxId: files.maxId };
    this.packFile = packPath(files.dir, files.name, files.seq);
  }

  get dir(): string {
    return this.files.dir;
  }

  /** Done, or fallen back. */
  private get over(): boolean {
    return this.step === "ended";
  }

  start(): void {
    underWay.add(this);
    this.removalEnded = removalUnderWay();
    const key = floorKey(this.files.dir, this.files.name);
    floors.set(key, [...(floors.get(key) ?? []), this.floor]);
    try {
      fileSystem.rename(this.files.pack.temp, this.packFile);
    } catch (error) {
      return this.fallBack(error);
    }
    this.committed = true;
    this.syncing = true;
    fileSystem.fsyncAsync(this.files.pack.fd, (error) => this.synced(error));
  }

  /** The fsync of step `step` returned: the next step, or the fallback. */
  private synced(error: Error | null): void {
    this.syncing = false;
    if (this.step === "ended") return this.closePack();
    if (error !== null) return this.fallBack(error);
    try {
      this.advance();
    } catch (stepError) {
      return this.fallBack(stepError);
    }
    if (this.over) return;
    this.syncing = true;
    // Shared with the other deletes asking now (directory_sync.ts): max_queue_age may retire thousands at once.
    syncDirectoryShared(this.files.dir, (dirError) => this.synced(dirError));
  }

  /** Runs the work after step `step`'s fsync; the step after it needs a directory fsync, unless it ended. */
  private advance(): void {
    switch (this.step) {
      case "pack":
        this.closePack();
        this.step = "commit";
        return;
      case "commit":
        // The pack's rename is on disk: the old files replay to nothing from here on.
        this.files.gone.settle("durable");
        this.moveAside();
        this.step = "moved";
        return;
      case "moved":
        fileSystem.remove(this.packFile);
        this.end(true);
        return;
      case "ended":
        return;
    }
  }

  private closePack(): void {
    if (!this.packOpen) return;
    this.packOpen = false;
    closeQuietly(this.files.pack.fd);
  }

  /** Moves the old files still there aside; throws the first error after trying them all. */
  private moveAside(): void {
    const { left, errors } = moveAllAside(this.left.splice(0), this.aside);
    this.left.push(...left);
    if (errors.length > 0) throw errors[0];
  }

  /** A clean stop: what is left, now, its fsyncs in the turn (or the fallback). */
  finish(): void {
    if (this.step === "ended") return;
    try {
      // An fsync still under way off the event loop is made again here: the stop can't wait for it.
      if (this.step === "pack") fileSystem.fsync(this.files.pack.fd);
      while (!this.over) {
        if (this.step !== "pack") fsyncDirectory(this.files.dir);
        this.advance();
      }
    } catch (error) {
      this.fallBack(error);
    }
  }

  /** A step failed: every old file still there is moved aside at once and the pack deleted, as `erase` does. */
  private fallBack(error: unknown): void {
    const { name, pack } = this.files;
    log.warn(`queue '${name}': could not retire the journal step by step (${errorText(error)}); deleting its files at once`);
    // The descriptor is closed once no fsync uses it (`synced` closes it then).
    if (!this.syncing) this.closePack();
    removeQuietly(pack.temp);
    let complete = true;
    try {
      this.moveAside();
    } catch (moveError) {
      complete = false;
      log.error(`queue '${name}': could not delete the files of its old journal, delete them before the next start or their items come back: ${errorText(moveError)}`);
    }
    // A committed pack stays while old files do: it makes them replay to nothing.
    if (complete && this.committed) complete = this.removePack();
    this.files.gone.settle("durable");
    this.end(complete);
  }

  /**
   * Deletes the committed pack; false if it is still there. Left, it replaces every segment up to
   * `seq` at the next start: the floor must stay, or a new journal of the name would number
   * segments it replaces.
   */
  private removePack(): boolean {
    try {
      fileSystem.remove(this.packFile);
      return true;
    } catch (error) {
      if (fileSystem.stat(this.packFile) === null) return true;
      log.error(`queue '${this.files.name}': could not delete ${this.packFile} (${errorText(error)}); a new journal of the queue numbers its segments after it until the next start, which installs it as an empty segment`);
      return false;
    }
  }

  private end(complete: boolean): void {
    this.step = "ended";
    removeInBackground(this.aside);
    this.removalEnded();
    underWay.delete(this);
    if (complete) this.dropFloor();
  }

  private dropFloor(): void {
    const key = floorKey(this.files.dir, this.files.name);
    const list = (floors.get(key) ?? []).filter((floor) => floor !== this.floor);
    if (list.length === 0) floors.delete(key);
    else floors.set(key, list);
  }
}
