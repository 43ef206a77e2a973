// memcached (npm) against kestrel (test/clients/run.ts). retries: 0 and remove: false, so a failed
// check does not take the server out of the client's pool; maxValue above 1 MiB because a Buffer
// is sent as a "binary" string whose UTF-8 length can be up to twice its size. It escapes CR and
// LF in values itself, so its values read back correctly only through the same client. It has no
// noreply.
import { createRequire } from "node:module";
import { promisify } from "node:util";
import Memcached from "memcached";
import { BINARY, check, expect, host, LARGE, port, skip, TYPED, version } from "./report.mjs";

version(createRequire(import.meta.url)("memcached/package.json").version);

function connect() {
  const client = new Memcached(`${host}:${port}`, { retries: 0, remove: false, timeout: 5000, maxValue: 4 << 20, poolSize: 1 });
  const call = (method) => promisify(client[method].bind(client));
  return { client, get: call("get"), set: (key, value) => call("set")(key, value, 0), gets: call("gets"), getMulti: call("getMulti"), stats: call("stats"), version: call("version") };
}

const c = connect();

await check("order", async (q) => {
  for (const n of [1, 2, 3]) expect(await c.set(q, `item ${n}`), true, "set");
  expect([await c.get(q), await c.get(q), await c.get(q), await c.get(q)], ["item 1", "item 2", "item 3", undefined], "items");
});

await check("blocking", async (q) => {
  expect(await c.get(`${q}/t=500`), undefined, "get/t=500 on an empty queue");
  const other = connect();
  try {
    const waiting = other.get(`${q}/t=3000`);
    await c.set(q, "late");
    expect(await waiting, "late", "item handed to the waiting get");
  } finally {
    other.client.end();
  }
});

await check("reliable", async (q) => {
  await c.set(q, "a");
  await c.set(q, "b");
  expect(await c.get(`${q}/open`), "a", "open");
  expect(await c.get(`${q}/abort`), undefined, "abort");
  expect(await c.get(`${q}/open`), "a", "open after abort");
  expect(await c.get(`${q}/close/open`), "b", "close/open");
  expect(await c.get(`${q}/close`), undefined, "close");
  expect(await c.get(q), undefined, "queue after close");
});

await check("binary", async (q) => {
  await c.set(q, BINARY);
  expect(await c.get(q), BINARY, "binary item");
});

await check("large", async (q) => {
  expect(await c.set(q, LARGE), true, "set of 1 MiB");
  expect(await c.get(q), LARGE, "1 MiB item");
});

await check("types", async (q) => {
  for (const value of TYPED) await c.set(q, value);
  const got = [];
  for (const _ of TYPED) got.push(await c.get(q));
  expect(got, TYPED, "typed values");
});

await check("gets", async (q) => {
  await c.set(q, "x");
  const item = await c.gets(q);
  expect(item?.[q], "x", "gets value");
  if (!item.cas) throw new Error("no cas unique");
  return `cas ${item.cas}`;
});

skip("noreply", "the client has no noreply");

await check("multiget", async (q) => {
  await c.set(q, "one");
  await c.set(q, "two");
  expect(await c.getMulti([q, q]), { [q]: "one" }, "getMulti of one queue twice");
  expect(await c.get(q), "two", "the item after");
});

await check("stats", async (q) => {
  await c.set(q, "s");
  const [stats] = await c.stats();
  expect(stats[`queue_${q}_items`], 1, "queue items stat");
  const [{ version: server, major }] = await c.version();
  if (Number(major) < 1) throw new Error(`version ${server}`);
  return `version ${server}`;
});

c.client.end();
