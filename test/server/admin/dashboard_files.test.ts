import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { DASHBOARD_FILES } from "../../../src/server/admin/dashboard_files.ts";

const ADMIN = join(import.meta.dir, "..", "..", "..", "src", "server", "admin");

test("every file of dashboard/ is served and typed for its import, and nothing else is", () => {
  const files = readdirSync(join(ADMIN, "dashboard")).sort();
  expect([...DASHBOARD_FILES.values()].map((entry) => basename(entry.file)).sort()).toEqual(files);
  const declared = [...readFileSync(join(ADMIN, "embedded_files.d.ts"), "utf8").matchAll(/^declare module "\*\/dashboard\/([^"]+)"/gm)].map((match) => match[1]);
  expect(declared.sort()).toEqual(files);
});

test("each file is served at /dashboard/<its name>, but the page, at /", () => {
  for (const [path, entry] of DASHBOARD_FILES) expect(path).toBe(basename(entry.file) === "index.html" ? "/" : `/dashboard/${basename(entry.file)}`);
});
