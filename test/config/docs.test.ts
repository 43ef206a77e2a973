/**
 * The configuration reference and the shipped kestrel.toml must match the schema exactly.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { defaultConfig, parseConfig } from "../../src/config/load.ts";
import { QUEUE_KEYS, SERVER_KEYS, type KeySpec } from "../../src/config/schema.ts";

const ROOT = join(import.meta.dir, "..", "..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

function documentedRows(markdown: string, heading: string): string[][] {
  const section = markdown.split(`## ${heading}`)[1]!.split("\n## ")[0]!;
  return section
    .split("\n")
    .filter((line) => line.startsWith("| `"))
    .map((line) => line.split(" | ").map((cell) => cell.replace(/^\| /, "").trim()));
}

function expectRowsMatch<C>(rows: string[][], specs: readonly KeySpec<C>[]): void {
  expect(rows.map((row) => row[0])).toEqual(specs.map((spec) => `\`${spec.key}\``));
  for (const [index, spec] of specs.entries()) {
    expect(rows[index]![1]).toBe(`\`${spec.defaultText}\``);
    expect(rows[index]![2]).toStartWith(spec.doc.replace(/\.$/, ""));
  }
}

test("docs/configuration.md lists every key with its default and meaning", () => {
  const markdown = read("docs/configuration.md");
  expectRowsMatch(documentedRows(markdown, "Server keys"), SERVER_KEYS);
  expectRowsMatch(documentedRows(markdown, "Queue keys"), QUEUE_KEYS);
});

test("the shipped kestrel.toml mentions every key at its default and runs on the embedded defaults", () => {
  const text = read("kestrel.toml");
  for (const spec of [...SERVER_KEYS, ...QUEUE_KEYS]) {
    expect(text).toMatch(new RegExp(`^# ${spec.key} = ${spec.defaultText.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`, "m"));
  }
  const parsed = parseConfig(text, join(ROOT, "kestrel.toml"));
  const defaults = defaultConfig();
  expect(parsed.queueDefaults).toEqual(defaults.queueDefaults);
  expect({ ...parsed.server, queuePath: "" }).toEqual({ ...defaults.server, queuePath: "" });
  expect(parsed.server.queuePath).toBe(join(ROOT, "kestrel-data"));
});

test("docs/migrating.md maps Kestrel's settings to keys that exist, and names every queue key of Kestrel's", () => {
  const markdown = read("docs/migrating.md");
  /** The keys named in the "here" column (the third) of the table under `### <heading>`. */
  const keysIn = (heading: string) =>
    markdown
      .split(`### ${heading}\n`)[1]!
      .split("\n#")[0]!
      .split("\n")
      .filter((line) => line.startsWith("| ") && !line.startsWith("| ---") && !line.includes("| here |"))
      .flatMap((line) => [...line.split(" | ")[2]!.matchAll(/`([a-z_]+)`/g)].map((match) => match[1]!));
  const serverKeys = new Set(SERVER_KEYS.map((spec) => spec.key));
  const queueKeys = new Set(QUEUE_KEYS.map((spec) => spec.key));
  const server = keysIn("Server");
  const queue = keysIn("Queues");
  expect(server.length).toBeGreaterThan(10);
  expect(server.filter((key) => !serverKeys.has(key) && !queueKeys.has(key))).toEqual([]);
  expect(queue.filter((key) => !queueKeys.has(key) && key !== "destination_queues")).toEqual([]);
  // A queue key of ours with no Kestrel counterpart is the only one left out.
  const oursAlone = new Set(["ignore_client_expiry"]);
  const named = new Set([...server, ...queue]);
  expect(QUEUE_KEYS.map((spec) => spec.key).filter((key) => !named.has(key) && !oursAlone.has(key))).toEqual([]);
});
