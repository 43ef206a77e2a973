// mc against kestrel (test/clients/run.ts), with its raw adapter, which hands back the value's
// bytes and flags: mc keeps no types of its own, the application sets and reads the flags. A
// miss is a NOT_FOUND error. It has no read timeout and no noreply.
import { createRequire } from "node:module";
import { promisify } from "node:util";
import mc from "mc";
import { BINARY, check, expect, host, LARGE, port, skip, version } from "./report.mjs";

version(createRequire(import.meta.url)("mc/package.json").version);

function connect() {
  const client = new mc.Client(`${host}:${port}`, mc.Adapter.raw);
  const call = (method) => promisify(client[method].bind(client));
  const set = call("set");
  const getRaw = call("get");
  return {
    client,
    connect: call("connect"),
    set: (key, value, flags = 0) => set(key, value, { flags }),
    get: (key) => getRaw(key).catch((error) => (error?.type === "NOT_FOUND" ? null : Promise.reject(error))),
    gets: call("gets"),
    stats: call("stats"),
    version: call("version"),
  };
}

const c = connect();
await c.connect();
/** The value's bytes, or undefined for a miss. */
const value = async (key) => (await c.get(key))?.[key]?.buffer;
const text = async (key) => (await value(key))?.toString();

await check("order", async (q) => {
  for (const n of [1, 2, 3]) expect(await c.set(q, `item ${n}`), "STORED", "set");
  expect([await text(q), await text(q), await text(q), await text(q)], ["item 1", "item 2", "item 3", undefined], "items");
});

await check("blocking", async (q) => {
  expect(await text(`${q}/t=500`), undefined, "get/t=500 on an empty queue");
  const other = connect();
  await other.connect();
  try {
    const waiting = other.get(`${q}/t=3000`);
    await c.set(q, "late");
    expect((await waiting)?.[`${q}/t=3000`]?.val, "late", "item handed to the waiting get");
  } finally {
    other.client.disconnect();
  }
});

await check("reliable", async (q) => {
  await c.set(q, "a");
  await c.set(q, "b");
  expect(await text(`${q}/open`), "a", "open");
  expect(await text(`${q}/abort`), undefined, "abort");
  expect(await text(`${q}/open`), "a", "open after abort");
  expect(await text(`${q}/close/open`), "b", "close/open");
  expect(await text(`${q}/close`), undefined, "close");
  expect(await text(q), undefined, "queue after close");
});

await check("binary", async (q) => {
  await c.set(q, BINARY);
  expect(await value(q), BINARY, "binary item");
});

await check("large", async (q) => {
  expect(await c.set(q, LARGE), "STORED", "set of 1 MiB");
  expect(await value(q), LARGE, "1 MiB item");
});

await check("types", async (q) => {
  const flags = [1, 42, 0xffff, 0xdeadbeef];
  for (const flag of flags) await c.set(q, `flags ${flag}`, flag);
  const got = [];
  for (const _ of flags) got.push((await c.get(q))?.[q]?.flags);
  expect(got, flags.map(String), "flags");
});

await check("gets", async (q) => {
  await c.set(q, "x");
  const item = (await c.gets(q))?.[q];
  expect(item?.val?.val, "x", "gets value");
  if (!item.cas) throw new Error("no cas unique");
  return `cas ${item.cas}`;
});

skip("noreply", "the client has no noreply");

await check("multiget", async (q) => {
  await c.set(q, "one");
  await c.set(q, "two");
  const got = await c.get([q, q]);
  expect(Object.fromEntries(Object.entries(got).map(([key, item]) => [key, item.val])), { [q]: "one" }, "get of one queue twice");
  expect(await text(q), "two", "the item after");
});

await check("stats", async (q) => {
  await c.set(q, "s");
  const [{ [`queue_${q}_items`]: items, version: server }] = await c.stats();
  expect(items, "1", "queue items stat");
  if (Number(String(server).split(".")[0]) < 1) throw new Error(`version ${server}`);
  return `version ${server}`;
});

c.client.disconnect();
