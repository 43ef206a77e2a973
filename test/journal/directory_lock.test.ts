import { afterEach, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DirectoryLock } from "../../src/journal/directory_lock.ts";
import { FaultInjector } from "../helpers/faulty_fs.ts";
import { tempDir } from "../helpers/temp_dir.ts";

let faults: FaultInjector | null = null;
afterEach(() => faults?.uninstall());

test("a lock that can't be written (a full disk) is refused naming the file, and none is left behind", () => {
  const dir = tempDir();
  const path = join(dir, "lock");
  faults = FaultInjector.install();
  faults.set([{ op: "writev", code: "ENOSPC", path: "/lock$" }]);
  // The server stopped at start with only "kestrel: ENOSPC: no space left on device, writev".
  expect(() => new DirectoryLock(path, dir)).toThrow(`could not write the lock ${path}: ENOSPC`);
  expect(existsSync(path)).toBe(false);
});
