/**
 * What commands can reach of the server: its shared state. (What they can reach of the connection
 * that sent them is its `Session`, commands/session.ts.)
 */
import type { KestrelConfig } from "../config/load.ts";
import type { Commit } from "../journal/commit.ts";
import type { QueueCollection } from "../queue/queue_collection.ts";
import type { Credentials } from "./auth_file.ts";
import type { MemoryPacer } from "./memory_pacer.ts";
import type { RequestBudget } from "./request_budget.ts";
import type { ServerStats } from "./stats.ts";
import type { ServerStatus } from "./status.ts";

export interface ServerContext {
  readonly queues: QueueCollection;
  readonly stats: ServerStats;
  /** up, writeavoid, readonly or quiescent: which sets and gets are refused. */
  readonly status: ServerStatus;
  /** Told of all client traffic; collects garbage when memory outgrows the live data. */
  readonly pacer: MemoryPacer;
  /** Request bytes held for all clients, against max_pending_request_bytes. */
  readonly requestBudget: RequestBudget;
  readonly version: string;
  config(): KestrelConfig;
  /** The users of the auth file in force, or null when clients need not authenticate. */
  credentials(): Credentials | null;
  /**
   * Re-reads the config file and applies it; returns an error message, or, applied, the commit
   * that settles once every journal it turned on or off holds its items (that goes on over turns).
   */
  reload(): string | Commit;
  /** Stops the server cleanly (the process exits once journals are closed). */
  shutdown(): void;
}
