// memcache-client (electrode) against kestrel (test/clients/run.ts). It sends every set with a
// 60 s exptime unless told otherwise (`lifetime`); compression only on request, here through a
// zlib compressor (its default one runs the `zstd` program). cmdTimeout 5 s is longer than any
// t= used here. Its stats come through cmd("stats").
import { createRequire } from "node:module";
import { deflateSync, inflateSync } from "node:zlib";
import { MemcacheClient } from "memcache-client";
import { BINARY, check, expect, host, LARGE, port, TYPED, version } from "./report.mjs";

version(createRequire(import.meta.url)("memcache-client/package.json").version);

const compressor = { compressSync: ({ input }) => deflateSync(input), decompressSync: ({ input }) => inflateSync(input) };
const connect = () => new MemcacheClient({ server: `${host}:${port}`, cmdTimeout: 5000, compressor });
const c = connect();
const value = async (key) => (await c.get(key))?.value;

await check("order", async (q) => {
  for (const n of [1, 2, 3]) expect(await c.set(q, `item ${n}`), ["STORED"], "set");
  expect([await value(q), await value(q), await value(q), await value(q)], ["item 1", "item 2", "item 3", undefined], "items");
});

await check("blocking", async (q) => {
  expect(await value(`${q}/t=500`), undefined, "get/t=500 on an empty queue");
  const other = connect();
  try {
    const waiting = other.get(`${q}/t=3000`);
    await c.set(q, "late");
    expect((await waiting)?.value, "late", "item handed to the waiting get");
  } finally {
    other.shutdown();
  }
});

await check("reliable", async (q) => {
  await c.set(q, "a");
  await c.set(q, "b");
  expect(await value(`${q}/open`), "a", "open");
  expect(await value(`${q}/abort`), undefined, "abort");
  expect(await value(`${q}/open`), "a", "open after abort");
  expect(await value(`${q}/close/open`), "b", "close/open");
  expect(await value(`${q}/close`), undefined, "close");
  expect(await value(q), undefined, "queue after close");
});

await check("binary", async (q) => {
  await c.set(q, BINARY);
  expect(await value(q), BINARY, "binary item");
});

await check("large", async (q) => {
  expect(await c.set(q, LARGE), ["STORED"], "set of 1 MiB");
  expect(await value(q), LARGE, "1 MiB item");
});

await check("types", async (q) => {
  const compressible = "compressible ".repeat(1000);
  for (const item of TYPED) await c.set(q, item);
  await c.set(q, compressible, { compress: true });
  const got = [];
  for (const _ of [...TYPED, compressible]) got.push(await value(q));
  expect(got, [...TYPED, compressible], "typed and compressed values");
});

await check("gets", async (q) => {
  await c.set(q, "x");
  const item = await c.gets(q);
  expect(item?.value, "x", "gets value");
  if (!item.casUniq) throw new Error("no cas unique");
  return `cas ${item.casUniq}`;
});

await check("noreply", async (q) => {
  await c.set(q, "n1", { noreply: true });
  await c.set(q, "n2", { noreply: true });
  expect([await value(q), await value(q), await value(q)], ["n1", "n2", undefined], "items set with noreply");
});

await check("multiget", async (q) => {
  await c.set(q, "one");
  await c.set(q, "two");
  const got = await c.get([q, q]);
  expect(Object.fromEntries(Object.entries(got).map(([key, item]) => [key, item.value])), { [q]: "one" }, "get of one queue twice");
  expect(await value(q), "two", "the item after");
});

await check("stats", async (q) => {
  await c.set(q, "s");
  const { STAT: stats } = await c.cmd("stats");
  const stat = (name) => stats.find(([key]) => key === name)?.[1];
  expect(stat(`queue_${q}_items`), "1", "queue items stat");
  const [, server] = await c.version();
  if (Number(server.split(".")[0]) < 1) throw new Error(`version ${server}`);
  return `version ${server}`;
});

c.shutdown();
