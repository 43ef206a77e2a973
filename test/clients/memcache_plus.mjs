// memcache-plus against kestrel (test/clients/run.ts). Its netTimeout (500 ms by default) closes
// a connection that waits that long for a reply, so it must be longer than any t= used: 2000 ms
// here. It writes values as UTF-8 text (Buffers too) and splits replies into lines before it
// reads values, so a value with CR LF comes back cut, whatever the server: no binary check, and
// the large item is text. It has no noreply and no stats, and getMulti sends one get per key into
// an object keyed by key: a queue named twice takes two items and keeps one, so that check is
// not run.
import { createRequire } from "node:module";
import MemcachePlus from "memcache-plus";
import { queueChecks } from "./queue_checks.mjs";
import { check, expect, host, LARGE_TEXT, port, skip, TYPED, version } from "./report.mjs";

version(createRequire(import.meta.url)("memcache-plus/package.json").version);

function connect() {
  const client = new MemcachePlus({ hosts: [`${host}:${port}`], netTimeout: 2000, maxValueSize: 2 << 20, onNetError() {} });
  return {
    client,
    get: async (key) => (await client.get(key)) ?? undefined,
    set: (key, value, options) => client.set(key, value, options),
    close: () => client.disconnect(),
  };
}

const c = connect();
skip("binary", "the client splits replies into lines before reading values: a value with CR LF comes back cut (memcached too)");
await queueChecks(c, connect, { binary: null, large: LARGE_TEXT });

await check("types", async (q) => {
  const compressible = "compressible ".repeat(1000);
  for (const item of TYPED) await c.set(q, item);
  await c.set(q, compressible, { compressed: true });
  const got = [];
  for (const _ of [...TYPED, compressible]) got.push(await c.get(q));
  expect(got, [...TYPED, compressible], "typed and compressed values");
});

await check("gets", async (q) => {
  await c.set(q, "x");
  const [item, cas] = await c.client.gets(q);
  expect(item, "x", "gets value");
  if (!cas) throw new Error("no cas unique");
  return `cas ${cas}`;
});

skip("noreply", "the client has no noreply");
skip("multiget", "getMulti sends one get per key and keeps one reply per key: a queue named twice loses an item in the client");

await check("stats", async () => {
  const server = await c.client.version();
  if (Number(String(server).split(".")[0]) < 1) throw new Error(`version ${server}`);
  return `no stats in the client; version ${server}`;
});

c.close();
