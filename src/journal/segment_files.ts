/**
 * How a queue's journal segments are named in queue_path, and finding them.
 *
 *   <queue>                 the active segment, appended to (also the only file of a Kestrel
 *                           journal or of a journal written before segments existed)
 *   <queue>.<seq>           sealed segments, replayed in seq order before the active one
 *   <queue>.<seq>.pack      a finished compaction (or rebuild) that replaces every segment up to
 *                           <seq>, committed but not yet installed: left by a crash (completed at
 *                           start) or by a failed install step while the server runs (completed by
 *                           the next upkeep)
 *   .<name>.<pid>.<ms>.tmp  a file being written; left behind only by a crash, and deleted at start
 *
 * `<queue>` here is the queue's file name (queueFileName: the name itself, or with some characters
 * escaped); none of these names but the first is a queue's file name, so nothing else is mistaken
 * for a queue.
 * A directory (or anything but a regular file) under one of these names blocks its queue: part of
 * its journal is not where it should be, and replaying the rest could bring back items consumed.
 */
import { join } from "node:path";
import { fileSystem } from "./files.ts";
import { queueFileName, queueNameOfFile } from "../queue_name.ts";

const SEQ_DIGITS = 10;

export interface QueueFiles {
  /** Sealed segment numbers, ascending. */
  readonly sealed: number[];
  /** Compactions that finished but were not yet moved into place, ascending. */
  readonly packs: number[];
  hasActive: boolean;
}

export interface DirectoryListing {
  readonly queues: Map<string, QueueFiles>;
  /** Queues that must not be loaded, and why. */
  readonly blocked: Map<string, string>;
  /** Leftover temporary files (names). */
  readonly temps: string[];
  /** Entries that are none of the above (reported, never touched). */
  readonly others: string[];
}

export function activePath(dir: string, queue: string): string {
  return join(dir, queueFileName(queue));
}

export function sealedPath(dir: string, queue: string, seq: number): string {
  return join(dir, `${queueFileName(queue)}.${String(seq).padStart(SEQ_DIGITS, "0")}`);
}

/** Segment `seq` of a journal whose active segment is `activeSeq`. */
export function segmentPath(dir: string, queue: string, seq: number, activeSeq: number): string {
  return seq === activeSeq ? activePath(dir, queue) : sealedPath(dir, queue, seq);
}

export function packPath(dir: string, queue: string, seq: number): string {
  return `${sealedPath(dir, queue, seq)}.pack`;
}

/** Every file of a queue's journal listed in `files`. */
export function journalFilePaths(dir: string, queue: string, files: QueueFiles): string[] {
  return [
    ...files.sealed.map((seq) => sealedPath(dir, queue, seq)),
    ...files.packs.map((seq) => packPath(dir, queue, seq)),
    ...(files.hasActive ? [activePath(dir, queue)] : []),
  ];
}

const SEGMENT = /^(.+)\.(\d+)(\.pack)?$/;

/** The queue, number and kind of a sealed segment's or pack's file name, or null for any other name. */
function segmentOf(file: string): { readonly queue: string; readonly seq: number; readonly pack: boolean } | null {
  const match = SEGMENT.exec(file);
  if (match === null) return null;
  const queue = queueNameOfFile(match[1]!);
  return queue === null ? null : { queue, seq: Number(match[2]), pack: match[3] !== undefined };
}

export function listJournalFiles(dir: string): DirectoryListing {
  const queues = new Map<string, QueueFiles>();
  const blocked = new Map<string, string>();
  const temps: string[] = [];
  const others: string[] = [];
  const filesOf = (queue: string): QueueFiles => {
    let files = queues.get(queue);
    if (files === undefined) queues.set(queue, (files = { sealed: [], packs: [], hasActive: false }));
    return files;
  };
  for (const entry of fileSystem.readdir(dir)) {
    const name = entry.name;
    const active = queueNameOfFile(name);
    const segment = active === null ? segmentOf(name) : null;
    const queue = active ?? segment?.queue ?? null;
    if (!entry.isFile) {
      if (queue === null) others.push(name);
      else blocked.set(queue, `${join(dir, name)} is ${entry.isDirectory ? "a directory" : "not a regular file"}, where a journal file belongs`);
    } else if (active !== null) {
      filesOf(active).hasActive = true;
    } else if (segment !== null) {
      const files = filesOf(segment.queue);
      (segment.pack ? files.packs : files.sealed).push(segment.seq);
    } else if (name.startsWith(".") && name.endsWith(".tmp")) {
      temps.push(name);
    } else {
      others.push(name);
    }
  }
  for (const files of queues.values()) {
    files.sealed.sort((a, b) => a - b);
    files.packs.sort((a, b) => a - b);
  }
  for (const queue of blocked.keys()) queues.delete(queue);
  return { queues, blocked, temps, others };
}
