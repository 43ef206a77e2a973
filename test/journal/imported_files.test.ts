import { describe, expect, test } from "bun:test";
import { existsSync, linkSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { IMPORTED_DIR, linkIntoImported, removeImportedLeftovers, unlinkImported } from "../../src/journal/imported_files.ts";
import { RESERVED_FILE_NAMES } from "../../src/queue_name.ts";
import { tempDir } from "../helpers/temp_dir.ts";

function withFiles(...names: string[]): string {
  const dir = tempDir();
  for (const name of names) writeFileSync(join(dir, name), name);
  return dir;
}

describe("imported/", () => {
  test("is a name no queue's file can take", () => {
    expect(RESERVED_FILE_NAMES).toContain(IMPORTED_DIR);
  });

  test("files are linked in under their own names; the links can be undone", () => {
    const dir = withFiles("q", "q.1700000000000");
    const links = linkIntoImported(dir, ["q", "q.1700000000000"]);
    expect(links.dir).toBe(join(dir, "imported"));
    expect(readdirSync(links.dir).sort()).toEqual(["q", "q.1700000000000"]);
    expect(readdirSync(dir).sort()).toEqual(["imported", "q", "q.1700000000000"]);
    unlinkImported(links);
    expect(readdirSync(links.dir)).toEqual([]);
  });

  test("an import done again reuses its links; a name taken by another file sends the whole import to imported/2/", () => {
    const dir = withFiles("q", "q.1700000000000");
    mkdirSync(join(dir, "imported"));
    linkSync(join(dir, "q"), join(dir, "imported", "q"));
    expect(linkIntoImported(dir, ["q", "q.1700000000000"])).toEqual({ dir: join(dir, "imported"), made: [join(dir, "imported", "q.1700000000000")] });
    writeFileSync(join(dir, "r"), "r");
    writeFileSync(join(dir, "imported", "r"), "an earlier import's r");
    expect(linkIntoImported(dir, ["r", "q"]).dir).toBe(join(dir, "imported", "2"));
  });

  test("a file is a leftover only when it is the very file of that name in an import directory", () => {
    const dir = withFiles("q.1", "q.2", "q.3");
    mkdirSync(join(dir, "imported", "2"), { recursive: true });
    linkSync(join(dir, "q.1"), join(dir, "imported", "q.1"));
    linkSync(join(dir, "q.2"), join(dir, "imported", "2", "q.2"));
    writeFileSync(join(dir, "imported", "q.3"), "another file");
    expect(removeImportedLeftovers(dir, ["q.1", "q.2", "q.3"])).toEqual(["q.1", "q.2"]);
    expect(existsSync(join(dir, "q.3"))).toBe(true);
    expect(removeImportedLeftovers(withFiles("q.1"), ["q.1"])).toEqual([]);
  });
});
