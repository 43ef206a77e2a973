/**
 * Compaction: the live state of a queue written as one segment (a "pack") that replaces every
 * segment up to a given seq.
 *
 * Crash safety: the pack is written to a temp file, fsynced, and renamed to `<queue>.<seq>.pack`
 * (the commit point: a complete pack exists or nothing changed); installing it fsyncs the
 * directory (the rename is then on disk), takes away the segments it replaces, oldest first
 * (at run time moved aside and deleted off the event loop, see deferred_removal.ts), and
 * renames the pack to `<queue>.<seq>`, with a directory fsync after each step (at run time off
 * the event loop, each next step in the turn it returns: `installPackInTurns`). Once the rename to
 * `.pack` happened the pack is committed whatever fails next: an install cut short is finished
 * later (the journal retries it; start-up finishes it too), and leftover temp files are deleted
 * at start.
 *
 * `PackTask` writes a big pack a slice at a time between event-loop turns and fsyncs it off the
 * event loop, so a compaction never blocks the server for more than a few milliseconds. Its
 * records come from a `PackSource`, asked for one slice at a time: the entries of a compaction
 * (`entriesSource`, a list made when it starts), or the items of a queue whose journal is being
 * turned on, read from the queue as the pack is written (src/queue/journal_fill.ts). A clean stop
 * can't wait for the turns: `finish` writes the rest and commits at once.
 *
 * Record order: replay keeps items in memory up to the queue's budget and leaves the rest to be
 * read back, which needs the ADD records from there on in growing id order. Queue order is not id
 * order where aborts and put-backs returned items to the head, so a pack writes the open items
 * first (an ADD and an OPEN each), then the queued items before the queue's last run of growing
 * ids as PUT_BACK records, last first (replay keeps those in memory, as the server had them, and
 * puts each at the head), then that run as ADDs.
 */
import { errorText } from "../errors.ts";
import { discard, type Extent } from "./active_file.ts";
import { closeQuietly, fileSystem, fsyncDirectory, fsyncDirectoryAsync, moveIntoPlace, removeQuietly, tempPathFor, writeFully } from "./files.ts";
import type { Item } from "./item.ts";
import { ADD_HEAD_SIZE, ID_RECORD_SIZE, OP_ADD, OP_OPEN, OP_PUT_BACK, encodeFileHeader, encodeSegmentRecord } from "./record.ts";
import { RecordBatch } from "./record_batch.ts";
import { packPath, sealedPath } from "./segment_files.ts";
import { CARRY_SLICE_BYTES, TailCopy, type ItemSource, type PackTail } from "./tail_copy.ts";

/** One live item of a pack, and whether it is handed out (open). */
export interface PackEntry {
  readonly item: Item;
  readonly open: boolean;
}

/**
 * About the bytes of a pack of `queued` items and `open` open ones holding `bytes` of data: an
 * ADD (or PUT_BACK) each, and an OPEN for each open one (the file header and SEGMENT record aside).
 */
export function packBytes(queued: number, open: number, bytes: number): number {
  return bytes + (queued + open) * ADD_HEAD_SIZE + open * ID_RECORD_SIZE;
}

/** Where a pack goes: the file replacing segments up to `seq` of queue `name`. */
export interface PackPlace {
  readonly dir: string;
  readonly name: string;
  readonly seq: number;
  /** Every item with a smaller id had left the queue for good (for its SEGMENT record). */
  readonly floor: number;
}

/** A pack to write: `entries`, every live item in queue order, replacing segments up to `seq`. */
export interface Pack extends PackPlace {
  readonly entries: readonly PackEntry[];
}

/** The records of a pack after its head, a slice at a time (PackTask asks until it says it is through). */
export interface PackSource {
  /** Adds records to `batch` until it holds about `maxBytes` (at least one, if any are left); false once it added the last. */
  fill(batch: RecordBatch, maxBytes: number): boolean;
  /** The largest item id in the records added so far (all of them once `fill` returned false). */
  readonly maxId: number;
}

const SLICE_BYTES = 1024 * 1024;

/** Entries in the order they are written; the queued ones before `putBackEnd` as PUT_BACK records. */
interface Layout {
  readonly entries: readonly PackEntry[];
  readonly putBackEnd: number;
}

/** The order to write `entries` (open ones first, then the queue in order) in; see the header. */
function layOut(entries: readonly PackEntry[]): Layout {
  let run = entries.length;
  while (run > 0 && !entries[run - 1]!.open && (run === entries.length || entries[run - 1]!.item.id < entries[run]!.item.id)) run--;
  const open = entries.filter((entry) => entry.open);
  const head = entries.slice(0, run).filter((entry) => !entry.open).reverse();
  return { entries: [...open, ...head, ...entries.slice(run)], putBackEnd: open.length + head.length };
}

/** Encodes entries from `from` into `batch` until it holds about `maxBytes`; returns where it stopped. */
function encodeInto(batch: RecordBatch, layout: Layout, from: number, maxBytes: number): number {
  let next = from;
  while (next < layout.entries.length && batch.size < maxBytes) {
    const { item, open } = layout.entries[next]!;
    batch.addItem(item, !open && next < layout.putBackEnd ? OP_PUT_BACK : OP_ADD);
    if (open) batch.addId(OP_OPEN, item.id);
    next++;
  }
  return next;
}

/** Encodes entries from `from` until about `maxBytes`; returns the chunks and where it stopped. */
function encodeSlice(layout: Layout, from: number, maxBytes: number): { chunks: readonly Uint8Array[]; records: number; next: number } {
  const batch = new RecordBatch();
  const next = encodeInto(batch, layout, from, maxBytes);
  const { chunks, records } = batch.take();
  return { chunks, records, next };
}

/** The largest item id among `entries`, or `atLeast` if none is larger. */
export function maxIdOf(entries: readonly PackEntry[], atLeast = 0): number {
  return entries.reduce((max, entry) => Math.max(max, entry.item.id), atLeast);
}

/** `entries` (every live item, open ones first, then the queue in order) as a pack's records, in the order the header says. */
export function entriesSource(entries: readonly PackEntry[]): PackSource {
  const layout = layOut(entries);
  let next = 0;
  return {
    maxId: maxIdOf(entries),
    fill(batch: RecordBatch, maxBytes: number): boolean {
      next = encodeInto(batch, layout, next, maxBytes);
      return next < layout.entries.length;
    },
  };
}

/** A whole journal file holding `entries` (the first segment of a journal): the header, then their records. */
export function encodeJournalFile(entries: readonly PackEntry[]): Uint8Array[] {
  return [encodeFileHeader(), ...encodeSlice(layOut(entries), 0, Infinity).chunks];
}

/** The start of a pack file: the header and the SEGMENT record that marks it as a pack. */
function packHead(pack: PackPlace): Uint8Array[] {
  return [encodeFileHeader(), encodeSegmentRecord({ seq: pack.seq, prevBytes: 0, prevRecords: 0, floor: pack.floor, pack: true })];
}

/** A pack written to a temp file and synced, not committed yet. */
export interface PreparedPack {
  readonly temp: string;
  readonly extent: Extent;
  readonly tail: PackTail | null;
}

/** A pack written to a temp file still open as `fd`, not synced yet (see `writePackFile`). */
export interface WrittenPack extends PreparedPack {
  readonly fd: number;
}

/**
 * Writes `pack` to a temp file: its entries, then what `tail` yields (as ADD records, a slice at a
 * time, so memory stays bounded however many there are), and fsyncs it. Throws, leaving nothing
 * behind, if it fails.
 */
export function preparePack(pack: Pack, tail: ItemSource | null = null): PreparedPack {
  const written = writePackFile(pack, tail);
  try {
    fileSystem.fsync(written.fd);
    fileSystem.close(written.fd);
  } catch (error) {
    discard(written);
    throw error;
  }
  return { temp: written.temp, extent: written.extent, tail: written.tail };
}

/**
 * `preparePack` but for the fsync: the file is left open, for its owner to fsync (off the event
 * loop, say: a journal rebuild) and close, or `discard`. Throws, leaving nothing behind, if it fails.
 */
export function writePackFile(pack: Pack, tail: ItemSource | null = null): WrittenPack {
  const temp = tempPathFor(packPath(pack.dir, pack.name, pack.seq));
  const fd = fileSystem.open(temp, "w");
  try {
    const body = encodeSlice(layOut(pack.entries), 0, Infinity);
    const chunks = [...packHead(pack), ...body.chunks];
    writeFully(fd, chunks);
    const extent: Extent = { bytes: chunks.reduce((sum, chunk) => sum + chunk.length, 0), records: body.records + 1 };
    if (tail === null) return { temp, fd, extent, tail: null };
    const copy = new TailCopy(fd, extent, tail);
    while (copy.step(CARRY_SLICE_BYTES));
    return { temp, fd, extent: copy.extent, tail: copy.tail };
  } catch (error) {
    discard({ temp, fd });
    throw error;
  }
}

/** Commits a prepared pack: renamed to `<queue>.<seq>.pack`. Throws, with nothing committed, if it fails. */
export function commitPack(pack: Pack, prepared: PreparedPack): void {
  moveIntoPlace(prepared.temp, packPath(pack.dir, pack.name, pack.seq));
}

/**
 * Writes a (small) pack in one go and commits it (not installed); returns its size. Throws, with
 * nothing committed, if it fails.
 */
export function writePack(pack: Pack): Extent {
  const prepared = preparePack(pack);
  commitPack(pack, prepared);
  return prepared.extent;
}

/** Where a committed pack goes and what it replaces (see `installPack`). */
export interface PackInstall {
  readonly dir: string;
  readonly name: string;
  readonly seq: number;
  /** The sealed segments there are (those up to `seq` are replaced). */
  readonly sealed: readonly number[];
  /** Older packs it supersedes (deleted with the segments). */
  readonly superseded: readonly number[];
  /** Takes each replaced file away, whether it is there or not. */
  readonly dispose: (path: string) => void;
}

/**
 * The steps of installing a committed pack, each to be followed by a directory fsync: the first
 * puts the pack's rename on disk, the second takes the segments it replaces away, and the older
 * packs it supersedes (before its own rename: a pack left at its `.pack` name would be installed
 * over it at the next start), the third renames it to `<queue>.<seq>`. A pack already renamed into
 * place is not looked for again: only a directory fsync is left.
 */
function installSteps(install: PackInstall): (() => void)[] {
  const { dir, name, seq } = install;
  const pack = packPath(dir, name, seq);
  if (fileSystem.stat(pack) === null) return [() => {}];
  return [
    () => {},
    () => {
      for (const old of install.sealed) {
        if (old > seq) break;
        install.dispose(sealedPath(dir, name, old));
      }
      for (const old of install.superseded) install.dispose(packPath(dir, name, old));
    },
    () => fileSystem.rename(pack, sealedPath(dir, name, seq)),
  ];
}

/**
 * Replaces the segments up to `seq` with the committed pack `seq`, and deletes the older packs it
 * supersedes (see `installSteps`). `dispose` deletes each replaced file by default; a running
 * journal moves it aside, to be deleted off the event loop (deferred_removal.ts). Safe to call
 * again after it failed at any step.
 */
export function installPack(dir: string, name: string, seq: number, sealed: readonly number[], superseded: readonly number[] = [], dispose: (path: string) => void = fileSystem.remove): void {
  for (const step of installSteps({ dir, name, seq, sealed, superseded, dispose })) {
    step();
    fsyncDirectory(dir);
  }
}

/**
 * `installPack` with its directory fsyncs off the event loop, each next step in the turn the
 * last one returns (an install's three took up to tens of ms in one turn on a busy disk). Before
 * each step it asks `wanted`: once that says no (the install was finished or superseded by other
 * means) it stops. `done` is called once: with null when installed or stopped, or with the error
 * a step met (the install is then to be finished later, as after `installPack` failed).
 */
export function installPackInTurns(install: PackInstall, wanted: () => boolean, done: (error: unknown) => void): void {
  let steps: (() => void)[];
  try {
    steps = installSteps(install);
  } catch (error) {
    return done(error);
  }
  const next = (index: number): void => {
    if (index === steps.length || !wanted()) return done(null);
    try {
      steps[index]!();
    } catch (error) {
      return done(error);
    }
    fsyncDirectoryAsync(install.dir, (error) => (error !== null ? done(error) : next(index + 1)));
  };
  next(0);
}

/**
 * Writes a pack a slice per event-loop turn, its records from `source` (`sliceBytes` a turn);
 * `done` gets null once it is committed (not installed), or the reason it failed. It is never
 * called during construction. `beforeCommit` runs right before the commit (the rename), and fails
 * the pack if it throws: a pack whose records were read from the queue as they were written
 * omits the items taken meanwhile, and may replace the journal only once their records are on
 * disk (Journal.fill).
 *
 * Invariant: it ends once (committed, failed or cancelled), and nothing it scheduled touches the
 * file after that.
 */
export class PackTask {
  private readonly temp: string;
  private fd = -1;
  /** The source gave its last records: the file is being fsynced. */
  private written = false;
  private ended = false;

  constructor(
    private readonly place: PackPlace,
    private readonly source: PackSource,
    private readonly done: (error: string | null) => void,
    private readonly onCancel: () => void = () => {},
    private readonly sliceBytes = SLICE_BYTES,
    private readonly beforeCommit: () => void = () => {},
  ) {
    this.temp = tempPathFor(packPath(place.dir, place.name, place.seq));
    setImmediate(() => {
      if (this.ended) return;
      this.run(() => {
        this.open();
        this.step();
      });
    });
  }

  /** The seq of the segments the pack replaces up to. */
  get seq(): number {
    return this.place.seq;
  }

  /** Stops the task and removes its temp file; `done` is not called, `onCancel` is. */
  cancel(): void {
    if (this.ended) return;
    this.ended = true;
    this.cleanUp();
    this.onCancel();
  }

  /**
   * Writes what is left, fsyncs and commits now (a clean stop can't wait for the turns); `done`
   * is called as it would have been. Nothing to do once it ended.
   */
  finish(): void {
    if (this.ended) return;
    this.run(() => {
      if (this.fd < 0) this.open();
      while (!this.written) this.writeSlice(Infinity);
      fileSystem.fsync(this.fd);
      this.commit();
    });
  }

  private open(): void {
    this.fd = fileSystem.open(this.temp, "w");
    writeFully(this.fd, packHead(this.place));
  }

  /** Writes the source's next records, about `maxBytes`; `written` once it gave the last. */
  private writeSlice(maxBytes: number): void {
    const batch = new RecordBatch();
    const more = this.source.fill(batch, maxBytes);
    writeFully(this.fd, batch.take().chunks);
    this.written = !more;
  }

  private step(): void {
    if (this.ended) return;
    this.run(() => {
      this.writeSlice(this.sliceBytes);
      if (!this.written) return void setImmediate(() => this.step());
      fileSystem.fsyncAsync(this.fd, (error) => {
        if (this.ended) return;
        if (error) return this.fail(error);
        this.run(() => this.commit());
      });
    });
  }

  private commit(): void {
    this.beforeCommit();
    const fd = this.fd;
    this.fd = -1;
    fileSystem.close(fd);
    fileSystem.rename(this.temp, packPath(this.place.dir, this.place.name, this.place.seq));
    // Committed: the install's first directory fsync puts the rename on disk.
    this.ended = true;
    this.done(null);
  }

  private run(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.fail(error);
    }
  }

  private fail(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.cleanUp();
    this.done(errorText(error));
  }

  private cleanUp(): void {
    if (this.fd >= 0) closeQuietly(this.fd);
    this.fd = -1;
    removeQuietly(this.temp);
  }
}
