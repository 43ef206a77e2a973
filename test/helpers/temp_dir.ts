/**
 * Temp directories for tests, removed after each test that asked for one. The removal hook is
 * registered in test/setup.ts: a hook registered here would only cover the first test file that
 * imports this module, since every file shares one module instance.
 */
import { mkdtempSync, rmSync } from "node:fs";
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
