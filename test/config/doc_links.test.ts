/**
 * Every relative link in README.md and docs/*.md leads somewhere: the file exists and, for a
 * `#anchor`, the target has a heading with that GitHub slug (lower case, punctuation but `_` and
 * `-` dropped, spaces as hyphens).
 */
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
const DOCS = [join(ROOT, "README.md"), ...readdirSync(join(ROOT, "docs")).filter((name) => name.endsWith(".md")).map((name) => join(ROOT, "docs", name))];

function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_ -]/gu, "")
    .replace(/ /g, "-");
}

function anchorsOf(path: string): Set<string> {
  const text = readFileSync(path, "utf8").replace(/```[\s\S]*?```/g, "");
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((match) => slug(match[1]!)));
}

/** The relative links of a markdown file (outside code blocks): [text](target). */
function linksOf(path: string): string[] {
  const text = readFileSync(path, "utf8").replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!).filter((target) => !/^[a-z]+:/.test(target));
}

test("every relative link in the README and docs/ reaches an existing file and heading", () => {
  const broken: string[] = [];
  for (const doc of DOCS) {
    for (const link of linksOf(doc)) {
      const [file, anchor] = link.split("#") as [string, string | undefined];
      const target = file === "" ? doc : resolve(dirname(doc), file);
      if (!existsSync(target)) broken.push(`${doc.slice(ROOT.length + 1)}: ${link} (no such file)`);
      else if (anchor !== undefined && statSync(target).isFile() && target.endsWith(".md") && !anchorsOf(target).has(anchor)) {
        broken.push(`${doc.slice(ROOT.length + 1)}: ${link} (no such heading)`);
      }
    }
  }
  expect(broken).toEqual([]);
});
