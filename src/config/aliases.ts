/**
 * `[aliases.<name>]` tables: Kestrel 2's queue aliases (config/AliasConfig.scala), each with one
 * key, `destination_queues`, the queues a set to the alias adds its item to.
 *
 * What cannot work is refused, naming the key: an alias name or destination that is not a valid
 * queue name, a destination named twice, an alias that is also configured as a queue
 * (`[queues.<name>]`: Kestrel 2 only warns that the alias masks it), an alias whose destinations
 * lead back to itself through other aliases (Kestrel 2 would recurse until its stack overflows),
 * and a move_expired_to that names an alias (Kestrel 2 would create a queue under the alias's
 * name). An alias with no destinations is allowed, as in Kestrel: its items go nowhere.
 */
import { isValidQueueName } from "../queue_name.ts";
import type { KestrelConfig } from "./load.ts";
import { isTable } from "./values.ts";

/** Alias name -> its destinations, in the order written. */
export type AliasMap = ReadonlyMap<string, readonly string[]>;

const DESTINATIONS_KEY = "destination_queues";

type Fail = (key: string, message: string) => never;

/** Reads the `aliases` table of a config file (undefined: none). */
export function readAliases(table: unknown, fail: Fail): AliasMap {
  const aliases = new Map<string, readonly string[]>();
  if (table === undefined) return aliases;
  if (!isTable(table)) return fail("aliases", "expected a table of [aliases.<name>] sections");
  for (const [name, section] of Object.entries(table)) {
    const key = `aliases.${name}`;
    if (!isValidQueueName(name)) fail(key, "not a valid alias name (the rule for queue names applies)");
    if (!isTable(section)) fail(key, `expected a table with ${DESTINATIONS_KEY}`);
    for (const k of Object.keys(section)) if (k !== DESTINATIONS_KEY) fail(`${key}.${k}`, `unknown alias key (an alias has only ${DESTINATIONS_KEY})`);
    aliases.set(name, readDestinations(section[DESTINATIONS_KEY], `${key}.${DESTINATIONS_KEY}`, fail));
  }
  return aliases;
}

function readDestinations(raw: unknown, key: string, fail: Fail): readonly string[] {
  if (raw === undefined) return fail(key, "missing: the queues a set to the alias adds its item to");
  if (!Array.isArray(raw) || !raw.every((name) => typeof name === "string")) return fail(key, "expected an array of queue names");
  const names = raw as string[];
  for (const name of names) if (!isValidQueueName(name)) fail(key, `"${name}" is not a valid queue name`);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) fail(key, `"${twice}" is named twice`);
  return names;
}

/** Refuses aliases that are configured queues too, alias cycles, and move_expired_to aliases. */
export function checkAliases(config: Pick<KestrelConfig, "aliases" | "queueDefaults" | "queueOverrides">, fail: Fail): void {
  const aliases = config.aliases;
  for (const name of aliases.keys()) {
    if (config.queueOverrides.has(name)) fail(`aliases.${name}`, `'${name}' is also configured as a queue ([queues.${name}]); a name is a queue or an alias, not both`);
    const cycle = cycleFrom(aliases, name, [name]);
    if (cycle !== null) fail(`aliases.${name}.${DESTINATIONS_KEY}`, `the aliases lead back to '${name}': ${cycle.map((n) => `'${n}'`).join(" -> ")}`);
  }
  const moveTargets = [
    ["move_expired_to", config.queueDefaults.moveExpiredTo] as const,
    ...[...config.queueOverrides].map(([name, own]) => [`queues.${name}.move_expired_to`, own.moveExpiredTo] as const),
  ];
  for (const [key, target] of moveTargets) {
    if (target != null && aliases.has(target)) fail(key, `"${target}" is an alias; move_expired_to names a queue`);
  }
}

/** The path of aliases from `path`'s last back to its first, or null if there is none. */
function cycleFrom(aliases: AliasMap, start: string, path: readonly string[]): string[] | null {
  for (const next of aliases.get(path.at(-1)!) ?? []) {
    if (next === start) return [...path, next];
    if (path.includes(next) || !aliases.has(next)) continue;
    const cycle = cycleFrom(aliases, start, [...path, next]);
    if (cycle !== null) return cycle;
  }
  return null;
}
