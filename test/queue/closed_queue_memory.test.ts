/**
 * A closed collection keeps none of its queues alive: its name order lets them go, and their items
 * in memory and open items leave the process-wide list of item lists that slab evacuation goes
 * through (slab_evacuation.ts), which otherwise held every closed queue that still had items, with
 * its blocks and their buffers. (In the test process, where thousands of such queues are closed,
 * the live heap grew to 550,000 objects and every heap snapshot took 5 s.)
 */
import { expect, test } from "bun:test";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { bytes } from "../helpers/bytes.ts";
import { configFor } from "../helpers/config.ts";
import { tempDir } from "../helpers/temp_dir.ts";

function liveItemBlocks(): number {
  Bun.gc(true);
  // Bun's snapshot is JavaScriptCore's format, which its types leave as `object`: a node is 4 numbers (id, size, class name index, flags).
  const snapshot = Bun.generateHeapSnapshot() as unknown as { nodes: number[]; nodeClassNames: string[] };
  let count = 0;
  for (let i = 2; i < snapshot.nodes.length; i += 4) if (snapshot.nodeClassNames[snapshot.nodes[i]!] === "ItemBlocks") count++;
  return count;
}

/** 50 queues of 20 items, one of them open, closed; nothing of it referenced once it returns. */
function closeFiftyQueues(): void {
  const queues = QueueCollection.load(configFor(tempDir()));
  for (let q = 0; q < 50; q++) {
    for (let n = 0; n < 20; n++) queues.add(`q${q}`, bytes(`item-${n}`), 0, Date.now());
    queues.getOrCreate(`q${q}`).open(Date.now());
  }
  queues.close();
}

test("closing a collection whose queues hold items, some of them open, leaves none of their item lists alive", () => {
  const before = liveItemBlocks();
  closeFiftyQueues();
  // The collector scans the stack conservatively, and slot homes are given back over turns: a few
  // may outlive the collection (up to 6 seen). One kept per queue would be 50.
  expect(liveItemBlocks() - before).toBeLessThan(20);
});
