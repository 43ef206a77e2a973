// memcache-client (electrode) against kestrel (test/clients/run.ts). It sends every set with a
// 60 s exptime unless told otherwise (`lifetime`); compression only on request, here through a
// zlib compressor (its default one runs the `zstd` program). cmdTimeout 5 s is longer than any
// t= used here. Its stats come through cmd("stats").
import { createRequire } from "node:module";
import { deflateSync, inflateSync } from "node:zlib";
import { MemcacheClient } from "memcache-client";
import { queueChecks } from "./queue_checks.mjs";
import { check, expect, host, port, TYPED, version } from "./report.mjs";

version(createRequire(import.meta.url)("memcache-client/package.json").version);

const compressor = { compressSync: ({ input }) => deflateSync(input), decompressSync: ({ input }) => inflateSync(input) };

function connect() {
  const client = new MemcacheClient({ server: `${host}:${port}`, cmdTimeout: 5000, compressor });
  return {
    client,
    get: async (key) => (await client.get(key))?.value,
    set: (key, value, options) => client.set(key, value, options),
    getMulti: async (keys) => Object.fromEntries(Object.entries(await client.get(keys)).map(([key, item]) => [key, item.value])),
    close: () => client.shutdown(),
  };
}

const c = connect();
await queueChecks(c, connect);

await check("types", async (q) => {
  const compressible = "compressible ".repeat(1000);
  for (const item of TYPED) await c.set(q, item);
  await c.set(q, compressible, { compress: true });
  const got = [];
  for (const _ of [...TYPED, compressible]) got.push(await c.get(q));
  expect(got, [...TYPED, compressible], "typed and compressed values");
});

await check("gets", async (q) => {
  await c.set(q, "x");
  const item = await c.client.gets(q);
  expect(item?.value, "x", "gets value");
  if (!item.casUniq) throw new Error("no cas unique");
  return `cas ${item.casUniq}`;
});

await check("noreply", async (q) => {
  await c.set(q, "n1", { noreply: true });
  await c.set(q, "n2", { noreply: true });
  expect([await c.get(q), await c.get(q), await c.get(q)], ["n1", "n2", undefined], "items set with noreply");
});

await check("stats", async (q) => {
  await c.set(q, "s");
  const { STAT: stats } = await c.client.cmd("stats");
  const stat = (name) => stats.find(([key]) => key === name)?.[1];
  expect(stat(`queue_${q}_items`), "1", "queue items stat");
  const [, server] = await c.client.version();
  if (Number(server.split(".")[0]) < 1) throw new Error(`version ${server}`);
  return `version ${server}`;
});

c.close();
