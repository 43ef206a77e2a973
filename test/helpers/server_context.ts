/**
 * A `ServerContext` over real queues (and a real `ServerStatus`) in a config's queue_path, for
 * driving a `Connection` through a `RecordingSocket` without a server process. Its `shutdown` and
 * `reload` only count their calls; the caller closes `queues` when done, or `contextPerTest`
 * closes them after each test.
 */
import { afterEach } from "bun:test";
import type { KestrelConfig } from "../../src/config/load.ts";
import { DURABLE } from "../../src/journal/commit.ts";
import type { DeadlineTimer } from "../../src/queue/deadline_timer.ts";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import type { ServerContext } from "../../src/server/context.ts";
import { MemoryPacer } from "../../src/server/memory_pacer.ts";
import { RequestBudget } from "../../src/server/request_budget.ts";
import { ServerStats } from "../../src/server/stats.ts";
import { ServerStatus } from "../../src/server/status.ts";
import { configFor } from "./config.ts";
import { tempDir } from "./temp_dir.ts";

/** `openTimer`: the timer open items time out on (a TestTimer, say); the shared one if not given. */
export function serverContext(config: KestrelConfig, openTimer?: DeadlineTimer) {
  const calls = { shutdown: 0, reload: 0 };
  const queues = QueueCollection.load(config, openTimer);
  const ctx: ServerContext = {
    queues,
    stats: new ServerStats(),
    status: ServerStatus.load(config.server.queuePath, config.server.defaultStatus, () => queues.releaseWaiters()),
    pacer: new MemoryPacer(),
    requestBudget: new RequestBudget(() => Infinity),
    version: "test",
    config: () => config,
    credentials: () => null,
    reload: () => (calls.reload++, DURABLE),
    shutdown: () => void calls.shutdown++,
  };
  return { ctx, calls, queues };
}

/**
 * For the tests of the calling file: a function making a context over a fresh temp dir (with
 * `extraConfig`), whose queues are closed after the test that made it.
 */
export function contextPerTest(): (extraConfig?: string, openTimer?: DeadlineTimer) => ServerContext {
  const closers: Array<() => void> = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });
  return (extraConfig = "", openTimer?: DeadlineTimer) => {
    const { ctx, queues } = serverContext(configFor(tempDir(), extraConfig), openTimer);
    closers.push(() => queues.close());
    return ctx;
  };
}
