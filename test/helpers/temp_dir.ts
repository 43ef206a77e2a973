/**
 * Temp directories for tests, removed after each test that asked for one. The removal hook is
 * registered in test/setup.ts: a hook registered here would only cover the first test file that
 * imports this module, since every file shares one module instance. And copies of a live data
 * directory, as a start after a crash would find it (`copyDataDir`).
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made: string[] = [];

/** Removes every directory `tempDir` made so far (test/setup.ts calls it after each test). */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "kestrel-unit-"));
  made.push(dir);
  return dir;
}

/**
 * Copies the data directory `from` into `to` (a new temp dir by default) as a start after a crash
 * would read it: temp files are left out, since start-up deletes them unread, and the journal
 * deletes some off the event loop while the copy is made (src/journal/deferred_removal.ts).
 */
export function copyDataDir(from: string, to = tempDir()): string {
  cpSync(from, to, { recursive: true, filter: (path) => !path.endsWith(".tmp") });
  return to;
}
