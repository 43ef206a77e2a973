/**
 * Writes a kestrel.toml: every key of the schema with its meaning, the chosen ones set, the rest
 * commented out at their defaults (so the file documents itself and runs on the defaults).
 */
import { QUEUE_KEYS, SERVER_KEYS, type KeySpec } from "./schema.ts";

/** TOML literals by key, e.g. `{ port: "22133", queue_path: '"/var/spool/kestrel"' }`. */
export type ChosenValues = Readonly<Record<string, string>>;

export function renderConfig(chosen: ChosenValues, generatedBy: string): string {
  const section = <C>(title: string, specs: readonly KeySpec<C>[]) =>
    [`# --- ${title} ${"-".repeat(Math.max(3, 92 - title.length))}`, "", ...specs.flatMap((spec) => entry(spec, chosen)), ""].join("\n");
  return [
    `# kestrel.toml, written by ${generatedBy}.`,
    "# Keys that are commented out are at their built-in defaults; docs/configuration.md has the",
    "# full reference. Per-queue overrides go in [queues.<name>] tables, e.g.",
    "#   [queues.jobs]",
    '#   sync_journal = "always"',
    "",
    section("server", SERVER_KEYS),
    section("queue defaults (every queue, unless [queues.<name>] overrides them)", QUEUE_KEYS),
  ].join("\n");
}

function entry<C>(spec: KeySpec<C>, chosen: ChosenValues): string[] {
  const value = chosen[spec.key];
  return [`# ${spec.doc}`, value === undefined ? `# ${spec.key} = ${spec.defaultText}` : `${spec.key} = ${value}`, ""];
}

/** A string as a TOML basic string literal. */
export function tomlString(value: string): string {
  return JSON.stringify(value);
}
