import { expect, test } from "bun:test";
import { edenGC, fullGC, heapStats } from "bun:jsc";
import { holdHome, releaseHome } from "../../src/queue/byte_homes.ts";

test("homes held and released one after another are not kept into the old generation", () => {
  // A home is added and forgotten for nearly every item. Indexed by a Map, the forgotten ones stayed
  // reachable for the young-generation collections, which moved them (and their bytes) to the old
  // generation, where only a full collection (a long pause) frees them: 6 MB of them here.
  fullGC();
  const live: number[] = [];
  for (let i = 0; i < 40_000; i++) {
    live.push(holdHome(new Uint8Array(1024)));
    if (live.length > 10) releaseHome(live.shift()!, 1024);
  }
  while (live.length > 0) releaseHome(live.shift()!, 1024);
  edenGC();
  const afterYoung = heapStats().heapSize;
  fullGC();
  expect(afterYoung - heapStats().heapSize).toBeLessThan(1024 * 1024);
});
