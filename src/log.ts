/**
 * The process log: leveled, timestamped lines to stderr or to a file.
 *
 * One line per event, written synchronously (a log line is never lost in a crash that follows it).
 * Configured once at start-up and again on reload, in two steps so a reload can fail whole: open
 * the new destination (the step that can fail), then switch to it (cannot fail). Every layer may
 * log; logging never throws.
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

function write(level: LogLevel, message: string): void {
  if (LOG_LEVELS.indexOf(level) < threshold) return;
  const line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}\n`;
  try {
    writeSync(fd, line);
  } catch {
    // Nowhere left to report a failing log; the server keeps running.
  }
}

export const log = {
  debug: (message: string): void => write("debug", message),
  info: (message: string): void => write("info", message),
  warn: (message: string): void => write("warn", message),
  error: (message: string): void => write("error", message),
};
