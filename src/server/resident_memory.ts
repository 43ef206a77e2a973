/**
 * The process's resident set, cheap enough to read every few hundred requests (the memory pacer
 * does).
 *
 * `process.memoryUsage.rss()` opens and reads /proc/self/stat, for which the kernel walks every
 * thread of the process to sum their CPU times (Bun runs a dozen: collector, JIT, I/O pool): 11
 * µs in an idle process, but 110-240 µs a call in a server busy at 10+10 connections, a tenth of
 * a second's work every few seconds. Here /proc/self/statm (the page counts alone) is kept open
 * and read again from its start: 7-13 µs in the same server.
 *
 * Elsewhere than Linux, or while the file can't be opened (no descriptor free), it is
 * `process.memoryUsage.rss()`, which throws as it does; the descriptor is opened again at the next
 * read.
 */
import { openSync, readSync } from "node:fs";
import { libc } from "../libc.ts";

const STATM = "/proc/self/statm";
const SPACE = 0x20;
const ZERO = 0x30;

let statm = -1;
let pageBytes = 0;
const text = new Uint8Array(128);

/** Resident bytes of this process now. */
export function residentBytes(): number {
  if (statm < 0 && !openStatm()) return process.memoryUsage.rss();
  const length = readSync(statm, text, 0, text.length, 0);
  return residentPages(text, length) * pageBytes;
}

function openStatm(): boolean {
  const c = libc();
  if (c === null) return false;
  try {
    statm = openSync(STATM, "r");
  } catch {
    return false;
  }
  pageBytes = c.getpagesize();
  return true;
}

/** statm's second field ("size resident shared text lib data dt"), in pages. */
export function residentPages(line: Uint8Array, length: number): number {
  let at = line.indexOf(SPACE) + 1;
  let pages = 0;
  for (; at < length && line[at] !== SPACE; at++) pages = pages * 10 + line[at]! - ZERO;
  return pages;
}

