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
 *
 * Scala Kestrel's files are listed with the queue they belong to, to be imported
 * (kestrel_files.ts). Kestrel names them after the queue's name itself: `<name>` (the current
 * file), rotated files `<name>.<ms>`, packs `<name>.<ms>.pack` and temp files `<name>~~<...>`.
 * They are told from ours by name: the name itself where it is not the queue's file name (a
 * character we escape), a number of other than 10 digits (a millisecond timestamp has 13; one of
 * 10 digits is listed as a segment, and its contents tell), `~~` (kept only for a queue that has
 * other files). A directory is never one of them, so `imported/` is not listed.
 * A directory (or anything but a regular file) under one of these names blocks its queue: part of
 * its journal is not where it should be, and replaying the rest could bring back items consumed.
 */
import { join } from "node:path";
import { fileSystem } from "./files.ts";
import { isValidQueueName, queueFileName, queueNameOfFile } from "../queue_name.ts";

const SEQ_DIGITS = 10;

export interface QueueFiles {
  /** Sealed segment numbers, ascending. */
  readonly sealed: number[];
  /** Compactions that finished but were not yet moved into place, ascending. */
  readonly packs: number[];
  hasActive: boolean;
  /** Files named as only Scala Kestrel names them (above), sorted. */
  readonly kestrel: string[];
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
    ...files.kestrel.map((file) => join(dir, file)),
  ];
}

const SEGMENT = /^(.+)\.(\d+)(\.pack)?$/;
const KESTREL_TEMP = "~~";

/**
 * The queue, number and kind of a sealed segment's or pack's file name (or of a Kestrel file so
 * named, whose number is a timestamp of other than 10 digits), or null for any other name.
 */
function segmentOf(file: string): { readonly queue: string; readonly seq: number; readonly pack: boolean; readonly kestrel: boolean } | null {
  const match = SEGMENT.exec(file);
  if (match === null) return null;
  const queue = queueNameOfFile(match[1]!);
  return queue === null ? null : { queue, seq: Number(match[2]), pack: match[3] !== undefined, kestrel: match[2]!.length !== SEQ_DIGITS };
}

/** The queue of a file Kestrel named after the queue's name itself (its current, rotated, packed or temp file), or null. */
function kestrelFileOf(file: string): { readonly queue: string; readonly temp: boolean } | null {
  const match = SEGMENT.exec(file);
  const queue = isValidQueueName(file) ? file : match !== null && isValidQueueName(match[1]!) ? match[1]! : null;
  if (queue !== null) return { queue, temp: false };
  const temp = file.indexOf(KESTREL_TEMP);
  return temp > 0 && isValidQueueName(file.slice(0, temp)) ? { queue: file.slice(0, temp), temp: true } : null;
}

export function listJournalFiles(dir: string): DirectoryListing {
  const queues = new Map<string, QueueFiles>();
  const blocked = new Map<string, string>();
  const temps: string[] = [];
  const others: string[] = [];
  const kestrelTemps: { readonly queue: string; readonly file: string }[] = [];
  const filesOf = (queue: string): QueueFiles => {
    let files = queues.get(queue);
    if (files === undefined) queues.set(queue, (files = { sealed: [], packs: [], hasActive: false, kestrel: [] }));
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
      if (segment.kestrel) files.kestrel.push(name);
      else (segment.pack ? files.packs : files.sealed).push(segment.seq);
    } else if (name.startsWith(".") && name.endsWith(".tmp")) {
      temps.push(name);
    } else {
      const kestrel = kestrelFileOf(name);
      if (kestrel === null) others.push(name);
      else if (kestrel.temp) kestrelTemps.push({ queue: kestrel.queue, file: name });
      else filesOf(kestrel.queue).kestrel.push(name);
    }
  }
  for (const { queue, file } of kestrelTemps) {
    const files = queues.get(queue);
    if (files === undefined) others.push(file);
    else files.kestrel.push(file);
  }
  for (const files of queues.values()) {
    files.sealed.sort((a, b) => a - b);
    files.packs.sort((a, b) => a - b);
    files.kestrel.sort();
  }
  for (const queue of blocked.keys()) queues.delete(queue);
  return { queues, blocked, temps, others };
}
