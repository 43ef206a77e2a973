import { describe, expect, test } from "bun:test";
import { ConfigError, defaultConfig, parseConfig, queueConfigFor } from "../../src/config/load.ts";
import { DEFAULT_QUEUE_CONFIG } from "../../src/config/schema.ts";

const FILE = "/etc/kestrel/kestrel.toml";
const parse = (toml: string) => parseConfig(toml, FILE);
const errorOf = (toml: string) => {
  try {
    parse(toml);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error("expected a ConfigError");
};

describe("config", () => {
  test("embedded defaults", () => {
    const config = defaultConfig();
    expect(config.server).toMatchObject({ port: 22133, maxRequestSize: 64 * 1024 * 1024, timeout: 0 });
    expect(config.queueDefaults).toEqual(DEFAULT_QUEUE_CONFIG);
    expect(DEFAULT_QUEUE_CONFIG).toMatchObject({
      maxItems: Infinity,
      journal: true,
      syncJournal: { kind: "never" },
      maxJournalSize: 16 * 1024 * 1024,
      maxJournalOverflow: 10,
    });
  });

  test("units, durations, sync policies and relative paths", () => {
    const config = parse(`
      port = 0
      queue_path = "data"
      timeout = "30s"
      expiration_timer_frequency = 250
      max_request_size = "1MiB"
      max_size = "2KB"
      max_age = "5m"
      sync_journal = "20ms"
      [queues.jobs]
      sync_journal = true
      max_items = 10
    `);
    expect(config.server).toMatchObject({ port: 0, queuePath: "/etc/kestrel/data", timeout: 30_000, expirationTimerFrequency: 250, maxRequestSize: 1 << 20 });
    expect(config.queueDefaults).toMatchObject({ maxSize: 2000, maxAge: 300_000, syncJournal: { kind: "interval", ms: 20 } });
    expect(queueConfigFor(config, "jobs")).toMatchObject({ maxItems: 10, maxSize: 2000, syncJournal: { kind: "always" } });
    expect(queueConfigFor(config, "jobs+x").maxItems).toBe(10);
    expect(queueConfigFor(config, "other").maxItems).toBe(Infinity);
  });

  test("a wrong type names the file, the key and what was expected", () => {
    expect(errorOf(`[queues.jobs]\nmax_items = "lots"`)).toBe(`${FILE}: queues.jobs.max_items: expected a whole number or "unlimited", got "lots"`);
    expect(errorOf(`port = 70000`)).toBe(`${FILE}: port: expected a whole number from 0 to 65535, got number 70000`);
    expect(errorOf(`sync_journal = "sometimes"`)).toContain(`sync_journal: expected false/"never", true/"always", or an interval like "20ms"`);
    expect(errorOf(`max_size = "12 parsecs"`)).toContain("max_size: expected a size in bytes");
  });

  test("unknown keys, bad queue names and bad TOML are errors", () => {
    expect(errorOf(`max_itemz = 5`)).toBe(`${FILE}: max_itemz: unknown key`);
    expect(errorOf(`[queues.jobs]\nport = 5`)).toBe(`${FILE}: queues.jobs.port: unknown queue key`);
    expect(errorOf(`[queues."../etc"]\nmax_items = 5`)).toContain(`queues.../etc: not a valid queue name`);
    expect(errorOf(`move_expired_to = "a/b"`)).toContain(`move_expired_to: "a/b" is not a valid queue name`);
    expect(errorOf(`port = `)).toMatch(new RegExp(`^${FILE}: not valid TOML: `));
  });
});
