/**
 * A reload that changes sync_journal, then a failed fsync: the cut-back after it may only drop
 * the bytes it still holds copies of, never records acknowledged under the other policy (they
 * were cut out of the file before the fix).
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { parseConfig, type KestrelConfig } from "../../src/config/load.ts";
import { onceDurable, type Commit } from "../../src/journal/commit.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { FaultInjector } from "../helpers/faulty_fs.ts";
import { copyDataDir, tempDir } from "../helpers/temp_dir.ts";

const faults = FaultInjector.install();
afterAll(() => faults.uninstall());
const tick = () => new Promise<void>((r) => setImmediate(r));

function configFor(dir: string, policy: string): KestrelConfig {
  const config = parseConfig(`sync_journal = "${policy}"\nexpiration_timer_frequency = 0`, join(dir, "kestrel.toml"));
  return { ...config, server: { ...config.server, queuePath: dir } };
}

function replayed(dir: string, config: KestrelConfig): string[] {
  const copy = tempDir();
  copyDataDir(dir, copy);
  const restored = QueueCollection.load({ ...config, server: { ...config.server, queuePath: copy } });
  const out: string[] = [];
  const q = restored.getOrCreate("q");
  for (let item = q.remove(Date.now()); item !== undefined; item = q.remove(Date.now())) out.push(text(item.data));
  restored.close();
  return out;
}

for (const [from, to] of [["never", "always"], ["always", "never"]] as const) {
  test(`sync_journal ${from} -> ${to}, then one fsync EIO`, async () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, from));
    const acked: string[] = [];
    let last: Commit | null = null;
    const put = (data: string) => {
      const commit = queues.add("q", bytes(data), 0, Date.now());
      if (typeof commit === "string") return;
      last = commit;
      onceDurable(commit, () => acked.push(data));
    };
    put("a1");
    await tick();
    if (from === "always") {
      // an fsync in flight when the reload comes, which fails after a batch was written under the new policy
      faults.set([{ op: "fsyncAsync", code: "EIO", times: 1 }]);
      put("a2");
      flushJournals(); // a2 written, its fsync in flight
      queues.prepareReconfigure(configFor(dir, to))();
      put("n1");
      flushJournals(); // n1 written under never: STORED at once
      expect(acked).toContain("n1");
    } else queues.prepareReconfigure(configFor(dir, to))();
    if (from === "never") faults.set([{ op: "fsyncAsync", code: "EIO", times: 1 }]);
    for (const d of ["b1", "b2", "b3"]) {
      put(d);
      await tick();
    }
    // Let the fsync that fails come back, then let upkeep retry.
    await new Promise<void>((resolve) => last!.onSettled(resolve));
    for (let i = 0; i < 5; i++) {
      queues.maintainJournals();
      await tick();
    }
    faults.clear();
    queues.maintainJournals();
    expect(queues.get("q")!.journalFailure).toBeNull();
    const onDisk = replayed(dir, configFor(dir, to));
    queues.close();
    expect({ acked, missingOnDisk: acked.filter((d) => !onDisk.includes(d)) }).toEqual({ acked, missingOnDisk: [] });
  });
}
