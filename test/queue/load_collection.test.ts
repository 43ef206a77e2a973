/**
 * A load is followed by a full collection only when its replay left garbage worth one: a
 * megabyte of journal replayed, or many queues opened. A small load skips it (a full collection
 * cost 14-23 ms alone and a median 224 ms in the test process, where 1,300 loads spent about 4
 * minutes in them).
 */
import { afterEach, expect, spyOn, test } from "bun:test";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { configFor } from "../helpers/config.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const collections = spyOn(Bun, "gc");
afterEach(() => collections.mockClear());

function fullCollectionsOfLoad(dir: string): number {
  collections.mockClear();
  const queues = QueueCollection.load(configFor(dir));
  const full = collections.mock.calls.filter(([sync]) => sync === true).length;
  queues.close();
  return full;
}

test("a load of an empty directory, or of a few small queues, makes no full collection", () => {
  const dir = tempDir();
  expect(fullCollectionsOfLoad(dir)).toBe(0);
  const queues = QueueCollection.load(configFor(dir));
  for (const name of ["a", "b", "c"]) queues.add(name, new Uint8Array(100), 0, Date.now(), 0);
  queues.close();
  expect(fullCollectionsOfLoad(dir)).toBe(0);
});

test("a load that replays a megabyte or more is followed by one", () => {
  const dir = tempDir();
  const queues = QueueCollection.load(configFor(dir));
  for (let i = 0; i < 1100; i++) queues.add("q", new Uint8Array(1024), 0, Date.now(), 0);
  queues.close();
  expect(fullCollectionsOfLoad(dir)).toBe(1);
});

test("a load of many queues is followed by one", () => {
  const dir = tempDir();
  const queues = QueueCollection.load(configFor(dir));
  for (let i = 0; i < 256; i++) queues.add(`q${i}`, new Uint8Array(1), 0, Date.now(), 0);
  queues.close();
  expect(fullCollectionsOfLoad(dir)).toBe(1);
});
