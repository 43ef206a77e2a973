/**
 * The native load generator built and run for real: about a second against this server and the
 * Bun floor (items flow, nothing is wrong), and against fakes that break the protocol or a
 * queue's promises (each fault is reported). Skipped only when no C compiler can be installed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { statSync, utimesSync } from "node:fs";
import { LOADGEN_BINARY, ensureLoadgen, runLoadgen, type LoadgenOptions } from "../../bench/lib/loadgen.ts";
import { ensureCommand } from "../../bench/lib/apt_install.ts";
import { startFloor, type Target } from "../../bench/lib/targets.ts";
import { FakeKestrel } from "../helpers/fake_kestrel.ts";
import { ServerProcess } from "../helpers/server.ts";

/** Why there is no C compiler, or null when there is one (installed with apt-get if need be). */
function missingCompiler(): string | null {
  try {
    ensureCommand("cc", "build-essential");
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const noCompiler = missingCompiler();
if (noCompiler !== null) console.warn(`skipping the load generator's tests: no C compiler (${noCompiler})`);

/** A short run: 2 producers and 2 consumers on one queue, 1 KiB items, a 1 s window after 0.2 s of warm-up. */
function load(port: number, changes: Partial<LoadgenOptions> = {}): LoadgenOptions {
  return {
    port,
    protocol: "memcache",
    producers: 2,
    consumers: 2,
    queues: 1,
    queuePrefix: "lg",
    itemSize: 1024,
    pipeline: 1,
    reliable: false,
    waitMs: 100,
    window: { seconds: 1 },
    warmupSeconds: 0.2,
    check: "queue",
    threads: 1,
    ...changes,
  };
}

describe.skipIf(noCompiler !== null)("the native load generator", () => {
  let binary = "";
  let kestrel: ServerProcess;
  let floor: Target;
  let fake: FakeKestrel;

  beforeAll(async () => {
    binary = ensureLoadgen();
    [kestrel, floor, fake] = await Promise.all([ServerProcess.start(), startFloor("bun floor"), FakeKestrel.start()]);
  });

  afterAll(async () => {
    await Promise.all([kestrel?.stop(), floor?.stop(), fake?.stop()]);
  });

  test("is rebuilt when its source is newer than the binary, and reused otherwise", () => {
    const longAgo = new Date(Date.now() - 3600_000 * 24 * 365 * 20);
    utimesSync(LOADGEN_BINARY, longAgo, longAgo);
    expect(ensureLoadgen()).toBe(LOADGEN_BINARY);
    const rebuilt = statSync(LOADGEN_BINARY).mtimeMs;
    expect(rebuilt).toBeGreaterThan(longAgo.getTime());
    ensureLoadgen();
    expect(statSync(LOADGEN_BINARY).mtimeMs).toBe(rebuilt);
  });

  test("moves items through this server with every reply and item as expected, and accounts for all of them", async () => {
    const { result } = await runLoadgen(binary, load(kestrel.port));
    expect(result.errorSamples).toEqual([]);
    expect(result.errors).toBe(0);
    expect(result.produced).toBeGreaterThan(0);
    expect(result.consumed).toBeGreaterThan(0);
    expect(result.put.count).toBe(result.produced);
    expect(result.take.p99).toBeGreaterThan(0);
    expect(result.drained).toBe(true);
    expect(result.lost).toBe(0);
    expect(result.totalConsumed).toBe(result.totalAcknowledged);
  });

  test("runs reliable reads, pipelined puts and several queues to a fixed item count", async () => {
    const { result } = await runLoadgen(binary, load(kestrel.port, { producers: 3, consumers: 3, queues: 3, queuePrefix: "lgr", reliable: true, pipeline: 4, window: { items: 2000 } }));
    expect(result.errorSamples).toEqual([]);
    expect(result.produced).toBeGreaterThanOrEqual(2000);
    expect(result.consumed).toBeGreaterThanOrEqual(2000);
    expect(result.lost).toBe(0);
    const client = await kestrel.client();
    const stats = await client.stats();
    client.close();
    for (const queue of ["lgr_0", "lgr_1", "lgr_2"]) expect([stats.get(`queue_${queue}_items`), stats.get(`queue_${queue}_open_transactions`)]).toEqual(["0", "0"]);
  });

  test("moves items through the Bun floor, checked as a cache", async () => {
    const { result } = await runLoadgen(binary, load(floor.port, { check: "cache", reliable: true }));
    expect(result.errorSamples).toEqual([]);
    expect(result.produced).toBeGreaterThan(0);
    expect(result.consumed).toBeGreaterThan(0);
  });

  const shortFakeRun = (port: number) => load(port, { window: { seconds: 0.3 }, warmupSeconds: 0, waitMs: 20 });

  test("reports a reply the protocol does not allow, and closes that connection", async () => {
    fake.onSet = "store";
    fake.getReply = "HELLO";
    const { result } = await runLoadgen(binary, shortFakeRun(fake.port));
    fake.getReply = null;
    expect(result.errors).toBeGreaterThan(0);
    expect(result.errorSamples[0]).toMatch(/^consumer \d: unexpected reply "HELLO" where VALUE .* or END was expected$/);
    expect(result.failedConnections).toBe(2);
    expect(result.lost).toBeNull();
  });

  test("reports an item that is not one it sent", async () => {
    fake.onSet = "store";
    fake.add("lgx", "x".repeat(1024));
    const { result } = await runLoadgen(binary, { ...shortFakeRun(fake.port), queuePrefix: "lgx" });
    expect(result.errorSamples).toContain(`consumer 0: item with a malformed header "${"x".repeat(38)}"`);
  });

  test("reports acknowledged items that never come out of the queue", async () => {
    fake.onSet = "discard";
    const { result } = await runLoadgen(binary, { ...shortFakeRun(fake.port), queuePrefix: "lgd" });
    expect(result.drained).toBe(true);
    expect(result.lost).toBe(result.totalAcknowledged);
    expect(result.lost).toBeGreaterThan(0);
    expect(result.errorSamples).toEqual([`run: ${result.lost} acknowledged items were never consumed`]);
  });

  test("reports an item handed out twice", async () => {
    fake.onSet = "store-twice";
    const { result } = await runLoadgen(binary, { ...shortFakeRun(fake.port), queuePrefix: "lgt" });
    expect(result.errors).toBeGreaterThan(0);
    expect(result.errorSamples[0]).toMatch(/^consumer \d: item \d\/\d+ (after \d\/\d+: out of order or repeated|handed out twice)$/);
  });
});
