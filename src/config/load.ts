/**
 * Reads kestrel.toml (smol-toml) into a validated `KestrelConfig`.
 *
 * Any problem is one `ConfigError` whose message names the file, the key and what was expected.
 * Unknown keys are errors (a typo must not silently fall back to a default), and so is what cannot
 * work: values that round to zero, a max_journal_size below 1KiB (values.ts, schema.ts), a
 * move_expired_to that leads back to where it started. Relative paths in a file (queue_path,
 * log_file, auth_file) are resolved against the file's directory.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseToml } from "smol-toml";
import { QUEUE_NAME_RULE, fanoutParent, isValidQueueName } from "../queue_name.ts";
import {
  DEFAULT_QUEUE_CONFIG,
  DEFAULT_SERVER_CONFIG,
  QUEUE_KEYS,
  SERVER_KEYS,
  type KeySpec,
  type QueueConfig,
  type ServerConfig,
} from "./schema.ts";
import { Mismatch, isTable } from "./values.ts";
import { checkAliases, readAliases, type AliasMap } from "./aliases.ts";

export interface KestrelConfig {
  readonly server: ServerConfig;
  /** Built-in defaults overlaid with the file's top-level queue keys. */
  readonly queueDefaults: QueueConfig;
  /** `[queues.<name>]` tables: only the keys each one sets. */
  readonly queueOverrides: ReadonlyMap<string, Partial<QueueConfig>>;
  /** `[aliases.<name>]` tables: each alias's destination queues. */
  readonly aliases: AliasMap;
  /** The file this came from, or null for the embedded defaults. */
  readonly file: string | null;
}

export class ConfigError extends Error {}

export function defaultConfig(): KestrelConfig {
  return { server: DEFAULT_SERVER_CONFIG, queueDefaults: DEFAULT_QUEUE_CONFIG, queueOverrides: new Map(), aliases: new Map(), file: null };
}

export function loadConfigFile(path: string): KestrelConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`${path}: cannot read config file: ${(error as Error).message}`);
  }
  return parseConfig(text, resolve(path));
}

export function parseConfig(text: string, file: string): KestrelConfig {
  let table: Record<string, unknown>;
  try {
    table = parseToml(text) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`${file}: not valid TOML: ${(error as Error).message.split("\n")[0]}`);
  }
  const fail = (key: string, message: string): never => {
    throw new ConfigError(`${file}: ${key}: ${message}`);
  };
  const serverKeys = new Set(SERVER_KEYS.map((spec) => spec.key));
  const queueKeys = new Set(QUEUE_KEYS.map((spec) => spec.key));
  for (const name of Object.keys(table)) {
    if (name !== "queues" && name !== "aliases" && !serverKeys.has(name) && !queueKeys.has(name)) fail(name, "unknown key");
  }
  const server = { ...DEFAULT_SERVER_CONFIG, ...readKeys(table, SERVER_KEYS, "", fail) };
  const queuePath = resolve(dirname(file), server.queuePath);
  const relativeToFile = (path: string | null) => (path === null ? null : resolve(dirname(file), path));
  const logFile = relativeToFile(server.logFile);
  const authFile = relativeToFile(server.authFile);
  const queueDefaults = { ...DEFAULT_QUEUE_CONFIG, ...readKeys(table, QUEUE_KEYS, "", fail) };

  const queueOverrides = new Map<string, Partial<QueueConfig>>();
  const queues = table.queues ?? {};
  if (!isTable(queues)) fail("queues", "expected a table of [queues.<name>] sections");
  for (const [name, section] of Object.entries(queues as Record<string, unknown>)) {
    if (!isValidQueueName(name)) fail(`queues.${name}`, `not a valid queue name (${QUEUE_NAME_RULE})`);
    if (!isTable(section)) fail(`queues.${name}`, "expected a table of queue settings");
    const keys = section as Record<string, unknown>;
    for (const k of Object.keys(keys)) if (!queueKeys.has(k)) fail(`queues.${name}.${k}`, "unknown queue key");
    queueOverrides.set(name, readKeys(keys, QUEUE_KEYS, `queues.${name}.`, fail));
  }
  const aliases = readAliases(table.aliases, fail);
  const config = { server: { ...server, queuePath, logFile, authFile }, queueDefaults, queueOverrides, aliases, file };
  checkMoveTargets(config, fail);
  checkAliases(config, fail);
  return config;
}

function readKeys<C>(table: Record<string, unknown>, specs: readonly KeySpec<C>[], prefix: string, fail: (key: string, message: string) => never): Partial<C> {
  const result: Partial<C> = {};
  for (const spec of specs) {
    if (!(spec.key in table)) continue;
    const raw = table[spec.key];
    const value = spec.parse(raw);
    if (value instanceof Mismatch) fail(prefix + spec.key, value.problem ?? `expected ${value.expected}, got ${describe(raw)}`);
    // spec.parse returns the type of spec.field (checked where the spec is declared).
    (result as Record<keyof C, unknown>)[spec.field] = value;
  }
  return result;
}

/**
 * Each move_expired_to must name a valid queue, and following them from any queue must never lead
 * back to a queue already passed (an item would move forever, or to the queue it expired in).
 * Judged on the settings in force for each queue (top-level defaults, a fanout parent's table, its
 * own table). Only queues the file names can be on a cycle: any other queue has the default
 * target, and nothing moves items to it.
 */
function checkMoveTargets(config: KestrelConfig, fail: (key: string, message: string) => never): void {
  const named = new Set(config.queueOverrides.keys());
  const check = (key: string, target: string | null | undefined) => {
    if (target == null) return;
    if (!isValidQueueName(target)) fail(key, `"${target}" is not a valid queue name`);
    named.add(target);
  };
  check("move_expired_to", config.queueDefaults.moveExpiredTo);
  for (const [name, override] of config.queueOverrides) check(`queues.${name}.move_expired_to`, override.moveExpiredTo);
  for (const name of [...named]) {
    const parent = fanoutParent(name);
    if (parent !== null) named.add(parent);
  }
  for (const start of named) {
    const path = [start];
    for (let target = queueConfigFor(config, start).moveExpiredTo; target !== null; target = queueConfigFor(config, target).moveExpiredTo) {
      const seen = path.indexOf(target);
      if (seen !== -1) failMoveCycle(config, path.slice(seen), fail);
      path.push(target);
    }
  }
}

/** Refuses a move_expired_to cycle (`cycle[i]` moves to `cycle[i + 1]`, the last to the first), saying how to break it. */
function failMoveCycle(config: KestrelConfig, cycle: readonly string[], fail: (key: string, message: string) => never): never {
  const keys = cycle.map((name) => moveKeyFor(config, name));
  const first = cycle[0]!;
  if (cycle.length === 1) {
    const why =
      keys[0] === "move_expired_to"
        ? " (a top-level move_expired_to applies to every queue without its own)"
        : keys[0] === `queues.${first}.move_expired_to`
          ? ""
          : " (a fanout child inherits its parent's move_expired_to)";
    return fail(keys[0]!, `queue '${first}' would move its expired items to itself${why}; set move_expired_to = "" in ${tableFor(first)} to drop them there`);
  }
  const route = [...cycle, first].map((name) => `'${name}'`).join(" -> ");
  return fail(
    keys[0]!,
    `expired items would move round a cycle, ${route} (set by ${[...new Set(keys)].join(", ")}); give one of these queues move_expired_to = "" or a queue outside the cycle`,
  );
}

/** The key whose move_expired_to is in force for queue `name`. */
function moveKeyFor(config: KestrelConfig, name: string): string {
  if (config.queueOverrides.get(name)?.moveExpiredTo !== undefined) return `queues.${name}.move_expired_to`;
  const parent = fanoutParent(name);
  return parent === null ? "move_expired_to" : moveKeyFor(config, parent);
}

/** The TOML table header of queue `name` (a fanout child's name needs quotes). */
function tableFor(name: string): string {
  return name.includes("+") ? `[queues."${name}"]` : `[queues.${name}]`;
}

function describe(raw: unknown): string {
  if (typeof raw === "string") return `"${raw}"`;
  if (Array.isArray(raw)) return "an array";
  if (isTable(raw)) return "a table";
  return `${typeof raw} ${String(raw)}`;
}

/** The settings in force for one queue: its own table, else its fanout parent's, else the defaults. */
export function queueConfigFor(config: KestrelConfig, name: string): QueueConfig {
  const own = config.queueOverrides.get(name);
  const plus = name.indexOf("+");
  const base = plus > 0 ? queueConfigFor(config, name.slice(0, plus)) : config.queueDefaults;
  return own === undefined ? base : { ...base, ...own };
}
