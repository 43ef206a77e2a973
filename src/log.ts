/**
 * The process log: leveled, timestamped lines to stderr or to a file.
 *
 * One line per event, written synchronously (a log line is never lost in a crash that follows it).
 * Configured once at start-up and again on reload, in two steps so a reload can fail whole: open
 * the new destination (the step that can fail), then switch to it (cannot fail). Every layer may
 * log; logging never throws.
 *
 * Bun makes stderr non-blocking; when it is a pipe nobody drains fast enough (systemd, docker,
 * a shell pipeline), a write finds it full. Lines are then kept, in order, and written as the
 * pipe takes them (retried every few ms), never dropped silently: beyond MAX_PENDING_BYTES kept,
 * new lines are counted and the count is logged once the pipe takes lines again. The server
 * never blocks on its log. At exit, what is kept is written out, waiting up to EXIT_FLUSH_MS.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { errorText } from "./errors.ts";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

let threshold = LOG_LEVELS.indexOf("info");
let fd = 2;

/** Where the log goes and what it keeps, opened and ready to switch to. */
export interface LogTarget {
  readonly level: LogLevel;
  /** The open file, or 2 for stderr. */
  readonly fd: number;
}

/** Opens `file` (null = stderr) for appending. Throws (one line) if it can't be opened. */
export function openLogTarget(level: LogLevel, file: string | null): LogTarget {
  try {
    return { level, fd: file === null ? 2 : openSync(file, "a", 0o644) };
  } catch (error) {
    throw new Error(`cannot open log_file: ${errorText(error)}`);
  }
}

/** Switches the log to `target`, closing the file it wrote to before. Never throws. */
export function useLogTarget(target: LogTarget): void {
  const previous = fd;
  threshold = LOG_LEVELS.indexOf(target.level);
  fd = target.fd;
  if (previous !== target.fd) closeLogFile(previous);
}

/** Closes a target that was opened but will not be used. Never throws. */
export function discardLogTarget(target: LogTarget): void {
  if (target.fd !== fd) closeLogFile(target.fd);
}

export function configureLog(level: LogLevel, file: string | null): void {
  useLogTarget(openLogTarget(level, file));
}

function closeLogFile(file: number): void {
  if (file === 2) return;
  try {
    closeSync(file);
  } catch {
    // The descriptor is released either way.
  }
}

/** Log bytes kept while the destination is full, before new lines are only counted. */
const MAX_PENDING_BYTES = 1024 * 1024;
const RETRY_MS = 5;
/** How long the process waits at exit for a full pipe to take the lines kept. */
const EXIT_FLUSH_MS = 2000;

/** Lines (or the unwritten end of one) waiting for the destination to take them, in order. */
const pending: Buffer[] = [];
let pendingBytes = 0;
let droppedLines = 0;
let retry: ReturnType<typeof setTimeout> | null = null;

function write(level: LogLevel, message: string): void {
  if (LOG_LEVELS.indexOf(level) < threshold) return;
  const line = Buffer.from(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}\n`);
  if (pendingBytes + line.length > MAX_PENDING_BYTES) {
    droppedLines++;
    return;
  }
  pending.push(line);
  pendingBytes += line.length;
  writePending();
}

/** Writes what the destination takes now; true once nothing is left. */
function writePending(): boolean {
  while (pending.length > 0) {
    const chunk = pending[0]!;
    let written: number;
    try {
      written = writeSync(fd, chunk);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") return dropPending(); // nowhere left to report it
      written = 0;
    }
    pendingBytes -= written;
    if (written < chunk.length) {
      pending[0] = chunk.subarray(written);
      retry ??= setTimeout(retryPending, RETRY_MS);
      return false;
    }
    pending.shift();
    if (pending.length === 0 && droppedLines > 0) noteDropped();
  }
  return true;
}

function retryPending(): void {
  retry = null;
  writePending();
}

/** The destination can't be written at all (not just full): the kept lines are dropped. */
function dropPending(): boolean {
  pending.length = 0;
  pendingBytes = 0;
  return true;
}

function noteDropped(): void {
  const count = droppedLines;
  droppedLines = 0;
  write("warn", `${count} log line(s) dropped: the log destination was not taking lines fast enough`);
}

/** Writes out the lines kept for a full pipe, waiting up to EXIT_FLUSH_MS (the process is exiting). */
export function flushLogAtExit(): void {
  const deadline = Date.now() + EXIT_FLUSH_MS;
  while (!writePending() && Date.now() < deadline) Bun.sleepSync(1);
}

export const log = {
  debug: (message: string): void => write("debug", message),
  info: (message: string): void => write("info", message),
  warn: (message: string): void => write("warn", message),
  error: (message: string): void => write("error", message),
};

process.on("exit", flushLogAtExit);
