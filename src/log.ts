/**
 * The process log: leveled, timestamped lines to stderr or to a file.
 *
 * One line per event, written synchronously (a log line is never lost in a crash that follows it).
 * Configured once at start-up and again on reload; every layer may log.
 */
import { closeSync, openSync, writeSync } from "node:fs";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

let threshold = LOG_LEVELS.indexOf("info");
let fd = 2;

export function configureLog(level: LogLevel, file: string | null): void {
  threshold = LOG_LEVELS.indexOf(level);
  const next = file === null ? 2 : openSync(file, "a", 0o644);
  if (fd !== 2) closeSync(fd);
  fd = next;
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
