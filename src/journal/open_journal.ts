/**
 * Opens a queue's journal at start-up: import a Scala Kestrel journal (kestrel_import.ts), finish
 * an interrupted compaction, replay every segment in order within the queue's memory budget,
 * recover damage.
 *
 * Never fails on what the files contain: damaged bytes are quarantined, each damaged segment is
 * repaired (a torn tail truncated, anything else cut out by an atomic rewrite), and one log line
 * per queue says what was kept and dropped. Throws only for I/O errors, for files of a newer
 * format version and for a Kestrel file among the segments, which are left untouched. Long
 * replays log their progress and speed. An active segment of an older version is given today's
 * header (its records are read by every version), so records of this version are never appended
 * under a header an older build would trust. A new journal of a name whose old journal is still
 * being retired numbers its segments and items after the old one's (retire_task.ts).
 */
import { basename, dirname } from "node:path";
import { log } from "../log.ts";
import { AddReader } from "./add_reader.ts";
import { closeQuietly, fileSystem, readFully, replaceFileAtomically, statExisting, type FileInfo } from "./files.ts";
import type { Item } from "./item.ts";
import { Journal, type JournalEvents, type JournalSettings } from "./journal.ts";
import type { SealedSegment } from "./segment_list.ts";
import { kestrelJournalOf } from "./kestrel_files.ts";
import { importKestrelJournal, withoutImportLeftovers } from "./kestrel_import.ts";
import { KestrelReplayer } from "./legacy_replay.ts";
import { encodeJournalFile, installPack } from "./pack.ts";
import { viewOf } from "./binary.ts";
import { FILE_HEADER_SIZE, FORMAT_VERSION, OP_SEGMENT, decodeRecordAt, encodeFileHeader, hasFileHeader, headerVersion } from "./record.ts";
import { DamageReport, ReplayProgress } from "./replay_report.ts";
import { ReplayState, type DiskRegion } from "./replay_state.ts";
import { retiredFloor } from "./retire_task.ts";
import { scanJournal, type ScanSummary } from "./scan.ts";
import { SegmentChain } from "./segment_chain.ts";
import { queueNameOfFile } from "../queue_name.ts";
import { activePath, packPath, sealedPath, segmentPath, type QueueFiles } from "./segment_files.ts";

export interface OpenOptions {
  readonly dir: string;
  readonly name: string;
  /** The queue's files found in the directory, or null for a new queue. */
  readonly files: QueueFiles | null;
  readonly settings: JournalSettings;
  /** Item bytes kept in memory, each item counting `memoryCost`; the rest stays in the journal (read-behind). */
  readonly memoryBudget: number;
  readonly events: JournalEvents;
}

export interface OpenedJournal {
  readonly journal: Journal;
  /** The live items in memory, in queue order (open transactions returned to the head). */
  readonly items: Item[];
  /** The live items left in the journal, after `items`. */
  readonly disk: DiskRegion | null;
  readonly nextId: number;
}

export class UnsupportedJournalError extends Error {}

export function openJournal(options: OpenOptions): OpenedJournal {
  const { dir, name } = options;
  const listed = options.files ?? { sealed: [], packs: [], hasActive: false, kestrel: [] };
  // The active segment is read first: it tells a Kestrel journal, and numbering goes on from its
  // own number, also when every sealed one is gone.
  let activeRead = listed.hasActive ? new SegmentBuffer().read(activePath(dir, name)) : null;
  const kestrel = kestrelJournalOf(dir, name, listed, activeRead?.bytes ?? null, Date.now());
  let files = listed;
  if (kestrel === null) {
    files = withoutImportLeftovers(dir, name, listed);
  } else {
    importKestrelJournal(dir, name, kestrel, Date.now());
    files = { sealed: [], packs: [], hasActive: true, kestrel: [] };
    activeRead = new SegmentBuffer().read(activePath(dir, name));
  }
  const sealedSeqs = finishCompaction(dir, name, files);
  // A journal of this name still being retired (retire_task.ts) keeps segments up to its floor: a new one starts after them.
  const floor = retiredFloor(dir, name);
  const activeSeq = Math.max((sealedSeqs.at(-1) ?? 0) + 1, activeRead === null ? (floor?.seq ?? 0) + 1 : claimedSeq(activeRead.bytes));
  const pathOf = (seq: number) => segmentPath(dir, name, seq, activeSeq);
  const order = files.hasActive ? [...sealedSeqs, activeSeq] : sealedSeqs;
  const reader = new AddReader({ pathOf, after: (seq) => order.find((next) => next > seq) ?? null });
  const state = new ReplayState(options.memoryBudget, (from, maxBytes) => reader.read(from, Infinity, maxBytes));
  const progress = new ReplayProgress(name, () => order.reduce((sum, seq) => sum + statExisting(pathOf(seq)).size, 0));
  const damageReport = new DamageReport(dir, name);
  const chain = new SegmentChain();
  const segmentName = (seq: number) => basename(sealedPath(dir, name, seq));
  const sealed: SealedSegment[] = [];
  let activeMaxId = 0;
  let activeRecords = 0;
  let activeFile: FileInfo | null = null;
  let records = 0;

  const buffer = new SegmentBuffer();
  for (const seq of order) {
    const path = pathOf(seq);
    const { bytes, file } = seq === activeSeq && activeRead !== null ? activeRead : buffer.read(path);
    /** The file was replaced or cut: its size (and maybe inode) changed. */
    let rewritten = false;
    const now = Date.now();
    let maxId = 0;
    chain.begin();
    const summary = scanJournal(bytes, now, {
      current(record, offset) {
        if ("item" in record) maxId = Math.max(maxId, record.item.id);
        if (record.op !== OP_SEGMENT) return state.apply(record, { seq, offset });
        const lost = chain.follow(seq, record.info, segmentName);
        // Items below the floor had left the queue; the records saying so may be what was lost.
        if (lost !== null) damageReport.missing(lost, state.dropBelow(record.info.floor));
      },
    });
    if (summary.unsupportedVersion !== null) {
      throw new UnsupportedJournalError(`journal ${path} has format version ${summary.unsupportedVersion}, newer than this build reads; queue '${name}' not loaded`);
    }
    if (summary.format === "kestrel") throw new Error(`${path} is a Scala Kestrel journal file among this queue's own segments; move it out of ${dir}`);
    records += summary.records;
    if (summary.damage.length > 0) {
      damageReport.add(path, bytes, summary, now);
      if (summary.format === "current") {
        repairSegment(path, bytes, summary);
        rewritten = true;
        reader.close();
        if (state.disk?.start.seq === seq) state.disk.start = { seq, offset: repairedOffset(state.disk.start.offset, summary) };
      }
    }
    if (seq === activeSeq && isOlderVersion(bytes)) {
      upgradeHeader(path);
      rewritten = true;
      reader.close();
    }
    chain.end(seq, bytes.length, summary.records);
    const after = rewritten ? statExisting(path) : file;
    if (seq === activeSeq) {
      activeMaxId = maxId;
      activeRecords = summary.records;
      activeFile = after;
    } else {
      sealed.push({ seq, maxId, size: after.size, ino: after.ino });
    }
    progress.advance(bytes.length, summary.records);
    collectNowAndThen(bytes.length);
  }
  reader.close();
  progress.finish();
  const items = state.items();
  damageReport.log(records, items.length + (state.disk?.count ?? 0));
  const journal = new Journal(dir, name, { sealed, activeSeq, activeMaxId, activeRecords, activeFile }, options.settings, options.events);
  // Open items go back to the head now: say so in the journal too (newest first, so replay puts
  // them back in this order), or a later start would still find them open.
  for (const item of items.slice(0, state.openCount).reverse()) journal.appendAbort(item.id);
  return { journal, items, disk: state.disk, nextId: Math.max(state.nextId, (floor?.maxId ?? 0) + 1) };
}

/**
 * Recovers one journal file offline, as start-up would (`kestrel qdump --repair`): damage is
 * quarantined and cut out; a Kestrel file is converted. Returns what was done, in words.
 */
export function repairJournalFile(path: string): string {
  const dir = dirname(path);
  const file = basename(path).split(".")[0]!;
  const name = queueNameOfFile(file) ?? file;
  const bytes = fileSystem.readFile(path);
  const now = Date.now();
  const state = new ReplayState();
  const kestrel = new KestrelReplayer(state);
  const summary = scanJournal(bytes, now, { kestrel: (record) => kestrel.apply(record) });
  kestrel.finish();
  if (summary.unsupportedVersion !== null) throw new UnsupportedJournalError(`format version ${summary.unsupportedVersion} is newer than this build reads`);
  const report = new DamageReport(dir, name);
  if (summary.damage.length > 0) report.add(path, bytes, summary, now);
  const items = state.items();
  if (summary.format === "kestrel") replaceFileAtomically(path, encodeItems(items));
  else if (summary.damage.length > 0) repairSegment(path, bytes, summary);
  report.log(summary.records, items.length);
  if (summary.format === "kestrel") return `converted from Kestrel's format (${summary.records} records)`;
  return summary.damage.length > 0 ? `repaired: ${summary.damage.length} damaged range(s) quarantined` : "no damage; left as it was";
}

/** The number a segment's SEGMENT record gives it, or 0 if it has none (or it is damaged). */
function claimedSeq(bytes: Uint8Array): number {
  const decoded = hasFileHeader(bytes) ? decodeRecordAt(bytes, viewOf(bytes), FILE_HEADER_SIZE) : null;
  return decoded?.record.op === OP_SEGMENT ? decoded.record.info.seq : 0;
}

/** Whether `bytes` start with an intact header of a version older than this build writes. */
function isOlderVersion(bytes: Uint8Array): boolean {
  const version = headerVersion(bytes);
  return version !== null && version < FORMAT_VERSION;
}

/**
 * Rewrites the file at `path` (atomically) with today's header and its records as they are (read
 * again: a repair may have changed them). Offsets don't move: every version's header is 16 bytes.
 */
function upgradeHeader(path: string): void {
  replaceFileAtomically(path, [encodeFileHeader(), fileSystem.readFile(path).subarray(FILE_HEADER_SIZE)]);
}

/** Bytes replayed since the last collection, and in all. */
let replayedSinceCollection = 0;
let replayedInAll = 0;
const COLLECT_EVERY_BYTES = 64 * 1024 * 1024;

/**
 * Every record decoded leaves a little garbage; collecting after every so many bytes replayed
 * keeps a long replay from peaking far above the memory the queues will use, without a
 * collection per file (10,000 small queues would pay 10,000 of them).
 */
function collectNowAndThen(bytes: number): void {
  replayedInAll += bytes;
  replayedSinceCollection += bytes;
  if (replayedSinceCollection < COLLECT_EVERY_BYTES) return;
  replayedSinceCollection = 0;
  Bun.gc(false);
}

/** Segment bytes this process replayed so far (a loader compares two readings). */
export function bytesReplayed(): number {
  return replayedInAll;
}

/** Reads whole segment files into one buffer, reused from file to file. */
class SegmentBuffer {
  private buffer = new Uint8Array(0);

  /** The file's bytes, valid until the next call, and what fstat says of it. */
  read(path: string): { readonly bytes: Uint8Array; readonly file: FileInfo } {
    const fd = fileSystem.open(path, "r");
    try {
      const file = fileSystem.fstat(fd);
      if (file.size > this.buffer.length) this.buffer = new Uint8Array(Math.max(file.size, this.buffer.length * 2));
      return { bytes: readFully(fd, this.buffer, file.size, 0), file };
    } finally {
      closeQuietly(fd);
    }
  }
}

/** Completes a compaction a crash interrupted after its commit point; returns the sealed seqs. */
function finishCompaction(dir: string, name: string, files: QueueFiles): number[] {
  const pack = files.packs.at(-1);
  if (pack === undefined) return files.sealed;
  const superseded = files.packs.slice(0, -1);
  for (const stale of superseded) log.warn(`queue '${name}': removing ${packPath(dir, name, stale)}, an older compaction superseded by a newer one`);
  installPack(dir, name, pack, files.sealed, superseded);
  log.info(`queue '${name}': finished a compaction interrupted by a restart`);
  return [pack, ...files.sealed.filter((seq) => seq > pack)];
}

/** A journal file holding `items` (none of them open). */
function encodeItems(items: readonly Item[]): Uint8Array[] {
  return encodeJournalFile(items.map((item) => ({ item, open: false })));
}

/** Cuts the damaged ranges out of a segment: truncation for a torn tail, else an atomic rewrite. */
function repairSegment(path: string, bytes: Uint8Array, summary: ScanSummary): void {
  const [first] = summary.damage;
  if (summary.damage.length === 1 && first!.start === summary.validEnd && first!.start >= FILE_HEADER_SIZE) {
    fileSystem.truncate(path, summary.validEnd);
    return;
  }
  const headerDamaged = summary.damage.some((range) => range.start === 0);
  const kept: Uint8Array[] = [headerDamaged ? encodeFileHeader() : bytes.subarray(0, FILE_HEADER_SIZE)];
  let from = headerDamaged ? 0 : FILE_HEADER_SIZE;
  for (const range of summary.damage) {
    if (range.start > from) kept.push(bytes.subarray(from, range.start));
    from = range.end;
  }
  if (from < bytes.length) kept.push(bytes.subarray(from));
  replaceFileAtomically(path, kept);
}

/** Where a record at `offset` of a damaged segment is after `repairSegment`. */
function repairedOffset(offset: number, summary: ScanSummary): number {
  const headerDamaged = summary.damage.some((range) => range.start === 0);
  const cutBefore = summary.damage.reduce((sum, range) => sum + (range.end <= offset ? range.end - range.start : 0), 0);
  return offset - cutBefore + (headerDamaged ? FILE_HEADER_SIZE : 0);
}
