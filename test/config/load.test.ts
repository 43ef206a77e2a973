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

describe("what cannot work is refused", () => {
  test("a nonzero duration or size that rounds to zero", () => {
    expect(errorOf(`timeout = "0.1ms"`)).toBe(`${FILE}: timeout: "0.1ms" rounds to zero milliseconds; write 0 if zero is meant, or a larger value`);
    expect(errorOf(`max_age = "0.4ms"`)).toContain(`max_age: "0.4ms" rounds to zero milliseconds`);
    expect(errorOf(`expiration_timer_frequency = "0.2ms"`)).toContain(`expiration_timer_frequency: "0.2ms" rounds to zero`);
    expect(errorOf(`[queues.q]\nmax_item_size = "0.3B"`)).toBe(`${FILE}: queues.q.max_item_size: "0.3B" rounds to zero bytes; write 0 if zero is meant, or a larger value`);
    expect(errorOf(`max_size = "0.0001KB"`)).toContain(`max_size: "0.0001KB" rounds to zero bytes`);
    expect(errorOf(`sync_journal = "0.3ms"`)).toContain(`sync_journal: "0.3ms" rounds to zero milliseconds`);
    // Zero written as zero still means zero; amounts that round up are kept.
    const config = parse(`timeout = "0ms"\nmax_age = "0.5ms"\nmax_item_size = "0B"\nexpiration_timer_frequency = 0`);
    expect(config.server).toMatchObject({ timeout: 0, expirationTimerFrequency: 0 });
    expect(config.queueDefaults).toMatchObject({ maxAge: 1, maxItemSize: 0 });
  });

  test("timer durations too long for a timer, and max_connections = 0", () => {
    expect(errorOf(`expiration_timer_frequency = "700h"`)).toContain(`of at most 2147483647 ms, got "700h"`);
    expect(errorOf(`expiration_timer_frequency = 2147483648`)).toContain(`of at most 2147483647 ms, got number 2147483648`);
    expect(errorOf(`sync_journal = "99999999999ms"`)).toContain("sync_journal: expected");
    expect(errorOf(`timeout = 2147484`)).toContain("timeout: expected a duration");
    expect(parse(`expiration_timer_frequency = 2147483647\nmax_age = "720h"`).queueDefaults.maxAge).toBe(720 * 3_600_000);
    expect(errorOf(`max_connections = 0`)).toBe(`${FILE}: max_connections: expected a whole number of at least 1, or "unlimited", got number 0`);
  });

  test("max_open_transactions below 1 or above 100000", () => {
    expect(errorOf(`max_open_transactions = 0`)).toBe(`${FILE}: max_open_transactions: expected a whole number from 1 to 100000, got number 0`);
    expect(errorOf(`[queues.q]\nmax_open_transactions = 100001`)).toContain(`queues.q.max_open_transactions: expected a whole number from 1 to 100000`);
    const config = parse(`max_open_transactions = 5\n[queues.q]\nmax_open_transactions = 100000`);
    expect([config.queueDefaults.maxOpenTransactions, queueConfigFor(config, "q").maxOpenTransactions]).toEqual([5, 100000]);
    expect(defaultConfig().queueDefaults.maxOpenTransactions).toBe(1);
  });

  test("a max_journal_size below 1KiB", () => {
    const expected = `expected a size in bytes (a number, or a string like "16MiB") of at least 1024 bytes`;
    expect(errorOf(`max_journal_size = 0`)).toBe(`${FILE}: max_journal_size: ${expected}, got number 0`);
    expect(errorOf(`[queues.q]\nmax_journal_size = "1000B"`)).toBe(`${FILE}: queues.q.max_journal_size: ${expected}, got "1000B"`);
    expect(parse(`max_journal_size = "1KiB"`).queueDefaults.maxJournalSize).toBe(1024);
  });

  test("a queue moving expired items to itself, with how to fix it", () => {
    expect(errorOf(`[queues.dead]\nmove_expired_to = "dead"`)).toBe(
      `${FILE}: queues.dead.move_expired_to: queue 'dead' would move its expired items to itself; set move_expired_to = "" in [queues.dead] to drop them there`,
    );
    // A top-level target is every queue's default, the target's own included.
    expect(errorOf(`move_expired_to = "dead"`)).toBe(
      `${FILE}: move_expired_to: queue 'dead' would move its expired items to itself (a top-level move_expired_to applies to every queue without its own); set move_expired_to = "" in [queues.dead] to drop them there`,
    );
    expect(errorOf(`move_expired_to = "dead"\n[queues.dead]\nmax_items = 5`)).toContain(`move_expired_to: queue 'dead' would move its expired items to itself`);
    // A fanout child inherits its parent's target.
    expect(errorOf(`[queues.jobs]\nmove_expired_to = "jobs+late"`)).toBe(
      `${FILE}: queues.jobs.move_expired_to: queue 'jobs+late' would move its expired items to itself (a fanout child inherits its parent's move_expired_to); set move_expired_to = "" in [queues."jobs+late"] to drop them there`,
    );
    expect(parse(`move_expired_to = "dead"\n[queues.dead]\nmove_expired_to = ""`).queueDefaults.moveExpiredTo).toBe("dead");
    expect(parse(`[queues.jobs]\nmove_expired_to = "jobs+late"\n[queues."jobs+late"]\nmove_expired_to = ""`).queueOverrides.size).toBe(2);
  });

  test("move_expired_to cycles of any length", () => {
    expect(errorOf(`[queues.a]\nmove_expired_to = "b"\n[queues.b]\nmove_expired_to = "a"`)).toBe(
      `${FILE}: queues.a.move_expired_to: expired items would move round a cycle, 'a' -> 'b' -> 'a' (set by queues.a.move_expired_to, queues.b.move_expired_to); give one of these queues move_expired_to = "" or a queue outside the cycle`,
    );
    expect(errorOf(`[queues.a]\nmove_expired_to = "b"\n[queues.b]\nmove_expired_to = "c"\n[queues.c]\nmove_expired_to = "a"`)).toContain(
      `'a' -> 'b' -> 'c' -> 'a'`,
    );
    // Through the top-level default: 'a' (named only as a target) moves to 'b' like every queue.
    expect(errorOf(`move_expired_to = "b"\n[queues.b]\nmove_expired_to = "a"`)).toContain(
      `'b' -> 'a' -> 'b' (set by queues.b.move_expired_to, move_expired_to)`,
    );
    // Through a fanout parent: 'z' moves to 'x+y', which inherits 'x' -> 'z'.
    expect(errorOf(`[queues.x]\nmove_expired_to = "z"\n[queues.z]\nmove_expired_to = "x+y"`)).toContain(
      `'z' -> 'x+y' -> 'z' (set by queues.z.move_expired_to, queues.x.move_expired_to)`,
    );
    // Chains that end are fine.
    const config = parse(`move_expired_to = "dead"\n[queues.dead]\nmove_expired_to = ""\n[queues.a]\nmove_expired_to = "b"`);
    expect(queueConfigFor(config, "a").moveExpiredTo).toBe("b");
    expect(queueConfigFor(config, "b").moveExpiredTo).toBe("dead");
    expect(queueConfigFor(config, "dead").moveExpiredTo).toBeNull();
  });
});

describe("Kestrel 2's queue keys and aliases", () => {
  test("fanout_only, max_queue_age and max_expire_sweep, inherited by fanout children", () => {
    const config = parse(`max_expire_sweep = 100\n[queues.feed]\nfanout_only = true\nmax_queue_age = "1h"\n[queues."a:b"]\nmax_expire_sweep = "unlimited"`);
    expect(queueConfigFor(config, "feed+x")).toMatchObject({ fanoutOnly: true, maxQueueAge: 3_600_000, maxExpireSweep: 100 });
    expect(queueConfigFor(config, "a:b").maxExpireSweep).toBe(Infinity);
    expect(DEFAULT_QUEUE_CONFIG).toMatchObject({ fanoutOnly: false, maxQueueAge: 0, maxExpireSweep: Infinity });
    expect(errorOf(`max_queue_age = "soon"`)).toContain("max_queue_age: expected a duration");
  });

  test("[aliases.<name>] destination_queues", () => {
    const config = parse(`[aliases.all]\ndestination_queues = ["a", "b:c"]\n[aliases."x$"]\ndestination_queues = []`);
    expect([...config.aliases]).toEqual([
      ["all", ["a", "b:c"]],
      ["x$", []],
    ]);
    expect(defaultConfig().aliases.size).toBe(0);
  });

  test("what cannot work is refused", () => {
    expect(errorOf(`aliases = 5`)).toBe(`${FILE}: aliases: expected a table of [aliases.<name>] sections`);
    expect(errorOf(`[aliases."a/b"]\ndestination_queues = []`)).toContain("aliases.a/b: not a valid alias name");
    expect(errorOf(`[aliases.x]\ndestinations = ["a"]`)).toBe(`${FILE}: aliases.x.destinations: unknown alias key (an alias has only destination_queues)`);
    expect(errorOf(`[aliases.x]`)).toContain("aliases.x.destination_queues: missing");
    expect(errorOf(`[aliases.x]\ndestination_queues = "a"`)).toContain("aliases.x.destination_queues: expected an array of queue names");
    expect(errorOf(`[aliases.x]\ndestination_queues = ["a.b"]`)).toContain(`aliases.x.destination_queues: "a.b" is not a valid queue name`);
    expect(errorOf(`[aliases.x]\ndestination_queues = ["a", "a"]`)).toContain(`"a" is named twice`);
    expect(errorOf(`[aliases.x]\ndestination_queues = ["a"]\n[queues.x]\nmax_items = 1`)).toContain(
      "aliases.x: 'x' is also configured as a queue ([queues.x]); a name is a queue or an alias, not both",
    );
    expect(errorOf(`[aliases.x]\ndestination_queues = ["y"]\n[aliases.y]\ndestination_queues = ["a", "x"]`)).toContain(
      "aliases.x.destination_queues: the aliases lead back to 'x': 'x' -> 'y' -> 'x'",
    );
    expect(errorOf(`[aliases.x]\ndestination_queues = ["x"]`)).toContain("the aliases lead back to 'x': 'x' -> 'x'");
    expect(errorOf(`[aliases.x]\ndestination_queues = ["a"]\n[queues.q]\nmove_expired_to = "x"`)).toContain(
      `queues.q.move_expired_to: "x" is an alias; move_expired_to names a queue`,
    );
  });
});
