import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { backgroundRemovals, moveAside, removeInBackground } from "../../src/journal/deferred_removal.ts";
import { fileSystem } from "../../src/journal/files.ts";
import { listJournalFiles } from "../../src/journal/segment_files.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const realRemoveAsync = fileSystem.removeAsync;
// Test files share a process: removals another file left under way would go through this file's stand-ins.
beforeEach(() => backgroundRemovals());
afterEach(() => {
  fileSystem.removeAsync = realRemoveAsync;
});

describe("moveAside", () => {
  test("renames a file to a temp name start-up deletes, freeing its name; nothing to do for a missing one; a directory is refused", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "q.0000000001"), "old");
    const temps = [moveAside(join(dir, "q.0000000001")), moveAside(join(dir, "q.0000000001"))];
    expect(temps[1]).toBeNull();
    expect(readdirSync(dir)).toEqual([basename(temps[0]!)]);
    expect(listJournalFiles(dir).temps).toEqual([basename(temps[0]!)]);
    // The name is free for a new file, and the same path moved aside again gets another temp name.
    writeFileSync(join(dir, "q.0000000001"), "new");
    const again = moveAside(join(dir, "q.0000000001"));
    expect(again).not.toBe(temps[0]);
    expect(readdirSync(dir).sort()).toEqual([basename(temps[0]!), basename(again!)].sort());
    mkdirSync(join(dir, "q"));
    expect(() => moveAside(join(dir, "q"))).toThrow();
    expect(existsSync(join(dir, "q"))).toBe(true);
  });
});

describe("removeInBackground", () => {
  test("deletes the files one at a time off the event loop, in order; backgroundRemovals resolves once they all went", async () => {
    const dir = tempDir();
    const paths = Array.from({ length: 5 }, (_, i) => join(dir, `.q.${i}.tmp`));
    for (const path of paths) writeFileSync(path, "x");
    const started: string[] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    fileSystem.removeAsync = (path, done) => {
      started.push(path);
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      realRemoveAsync(path, (error) => {
        inFlight--;
        done(error);
      });
    };
    let told = false;
    removeInBackground(paths, () => (told = true));
    expect(started).toEqual([paths[0]!]);
    await backgroundRemovals();
    expect([started, mostInFlight, told, readdirSync(dir)]).toEqual([paths, 1, true, []]);
  });

  test("a file that can't be deleted is left for start-up, and the rest still go", async () => {
    const dir = tempDir();
    const paths = Array.from({ length: 3 }, (_, i) => join(dir, `.q.${i}.tmp`));
    for (const path of paths) writeFileSync(path, "x");
    fileSystem.removeAsync = (path, done) => (path === paths[1] ? setImmediate(() => done(new Error("EIO"))) : realRemoveAsync(path, done));
    removeInBackground(paths);
    await backgroundRemovals();
    expect(readdirSync(dir)).toEqual([basename(paths[1]!)]);
  });

  test("nothing to delete: backgroundRemovals resolves at once", async () => {
    removeInBackground([]);
    await backgroundRemovals();
  });
});
