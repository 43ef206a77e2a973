import { expect, test } from "bun:test";
import { pendingAdds } from "../../src/journal/pending_adds.ts";
import { RecordBatch } from "../../src/journal/record_batch.ts";
import { OP_PUT_BACK, OP_REMOVE, encodeAdd } from "../../src/journal/record.ts";
import { concat } from "../helpers/bytes.ts";

const itemOf = (id: number, size: number) => ({ id, addTime: 1_795_000_000_000 + id, expiry: 0, flags: id, data: new Uint8Array(size).fill(id % 251) });

test("the ADDs among records in many chunks, with the offsets they take from `from` on; other records are skipped; item bytes are copies", () => {
  const batch = new RecordBatch();
  batch.addItem(itemOf(1, 10));
  batch.addId(OP_REMOVE, 1);
  batch.addItem(itemOf(2, 70_000), OP_PUT_BACK);
  batch.addItem(itemOf(3, 100_000)); // past an arena: more than one chunk
  const taken = batch.take();
  expect(taken.chunks.length).toBeGreaterThan(1);
  const adds = pendingAdds(taken.chunks, 5000);
  expect(adds.map((add) => add.item.id)).toEqual([1, 3]);
  expect(adds[0]!.offset).toBe(5000);
  // The last record: it ends where the records end.
  expect(adds[1]!.offset).toBe(5000 + taken.size - concat(...encodeAdd(itemOf(3, 100_000))).length);
  expect(adds[1]!.item).toEqual(itemOf(3, 100_000));
  for (const chunk of taken.chunks) chunk.fill(0);
  expect(adds[1]!.item.data).toEqual(itemOf(3, 100_000).data);
});

test("a record that does not decode ends the list", () => {
  const batch = new RecordBatch();
  batch.addItem(itemOf(1, 10));
  batch.addItem(itemOf(2, 10));
  batch.addItem(itemOf(3, 10));
  const whole = concat(...batch.take().chunks);
  const recordSize = whole.length / 3;
  whole[recordSize + 20]! ^= 0xff; // the second record's bytes
  expect(pendingAdds([whole], 0).map((add) => add.item.id)).toEqual([1]);
});
