/**
 * Queue aliases (Kestrel 2's AliasedQueue.scala): a name that takes sets and adds each item to
 * its destination queues, keeping none itself. QueueCollection routes the adds; this keeps each
 * alias's destinations and its counters (`put_items`, `put_bytes`, counted for every set, as
 * Kestrel counts them before adding).
 *
 * Invariants: the table holds exactly the aliases of the config in force (Kestrel 2 never drops
 * an alias a reload removed; here it goes); an alias that stays across a reload keeps its
 * counters.
 */
import type { AliasMap } from "../config/aliases.ts";
import { JoinedCommits } from "../journal/commit.ts";
import { log } from "../log.ts";
import { byName } from "../queue_name.ts";

export class Alias {
  putItems = 0;
  putBytes = 0;
  /** The commit the last set to this alias waited on, for the next one in the same turn. */
  readonly commits = new JoinedCommits();

  constructor(
    readonly name: string,
    public destinations: readonly string[],
  ) {}

  /** A set of `bytes` bytes came to the alias. */
  noteAdd(bytes: number): void {
    this.putItems++;
    this.putBytes += bytes;
  }
}

export interface AliasStats {
  readonly name: string;
  readonly putItems: number;
  readonly putBytes: number;
  readonly destinations: readonly string[];
}

export class AliasTable {
  private readonly aliases = new Map<string, Alias>();

  get(name: string): Alias | undefined {
    return this.aliases.get(name);
  }

  has(name: string): boolean {
    return this.aliases.has(name);
  }

  /** Makes the table the aliases of `config`, logging each one set up, changed or dropped. */
  configure(config: AliasMap): void {
    for (const name of [...this.aliases.keys()]) {
      if (config.has(name)) continue;
      this.aliases.delete(name);
      log.info(`alias '${name}' removed`);
    }
    for (const [name, destinations] of config) {
      const alias = this.aliases.get(name);
      const shown = destinations.map((d) => `'${d}'`).join(", ") || "nothing";
      if (alias === undefined) {
        this.aliases.set(name, new Alias(name, destinations));
        log.info(`alias '${name}' set up: a set adds to ${shown}`);
      } else if (alias.destinations.join("\0") !== destinations.join("\0")) {
        alias.destinations = destinations;
        log.info(`alias '${name}' changed: a set adds to ${shown}`);
      }
    }
  }

  /** Every alias's figures, by name. */
  stats(): AliasStats[] {
    return [...this.aliases.values()]
      .sort(byName)
      .map((alias) => ({ name: alias.name, putItems: alias.putItems, putBytes: alias.putBytes, destinations: alias.destinations }));
  }
}
