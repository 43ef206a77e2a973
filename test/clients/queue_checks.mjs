// The checks every Node text-protocol client does alike: queue order, blocking gets, reliable
// reads, a binary and a 1 MiB item, and a multi-key get naming one queue twice. A scenario hands
// in its client wrapped as { get(key) -> value or undefined, set(key, value), getMulti(keys) ->
// { key: value } (optional), close() }, and connect(), which makes another one (another connection).
import { BINARY, check, expect, LARGE } from "./report.mjs";

const WAIT_MS = 1500; // a blocking get's t=, shorter than every Node client's read timeout here

const text = (value) => (Buffer.isBuffer(value) ? value.toString() : value);

/** `binary` and `large` are the payloads to round-trip; `binary: null` leaves that check to the scenario. */
export async function queueChecks(c, connect, { binary = BINARY, large = LARGE } = {}) {
  const get = async (key) => text(await c.get(key));

  await check("order", async (q) => {
    for (const n of [1, 2, 3]) await c.set(q, `item ${n}`);
    expect([await get(q), await get(q), await get(q), await get(q)], ["item 1", "item 2", "item 3", undefined], "items");
  });

  await check("blocking", async (q) => {
    expect(await get(`${q}/t=500`), undefined, "get/t=500 on an empty queue");
    const other = await connect();
    try {
      const waiting = other.get(`${q}/t=${WAIT_MS}`);
      await c.set(q, "late");
      expect(text(await waiting), "late", "item handed to the waiting get");
    } finally {
      other.close();
    }
  });

  await check("reliable", async (q) => {
    await c.set(q, "a");
    await c.set(q, "b");
    expect(await get(`${q}/open`), "a", "open");
    expect(await get(`${q}/abort`), undefined, "abort");
    expect(await get(`${q}/open`), "a", "open after abort");
    expect(await get(`${q}/close/open`), "b", "close/open");
    expect(await get(`${q}/close`), undefined, "close");
    expect(await get(q), undefined, "queue after close");
  });

  if (binary !== null) {
    await check("binary", async (q) => {
      await c.set(q, binary);
      expect(await c.get(q), binary, "binary item");
    });
  }

  await check("large", async (q) => {
    await c.set(q, large);
    expect(await c.get(q), large, "1 MiB item");
  });

  if (c.getMulti !== undefined) {
    await check("multiget", async (q) => {
      await c.set(q, "one");
      await c.set(q, "two");
      const got = await c.getMulti([q, q]);
      expect(Object.fromEntries(Object.entries(got).map(([key, value]) => [key, text(value)])), { [q]: "one" }, "multi-key get of one queue twice");
      expect(await get(q), "two", "the item after");
    });
  }
}
