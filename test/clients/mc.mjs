// mc against kestrel (test/clients/run.ts), with its raw adapter, which hands back the value's
// bytes and flags: mc keeps no types of its own, the application sets and reads the flags. A
// miss is a NOT_FOUND error. It has no read timeout and no noreply.
import { createRequire } from "node:module";
import { promisify } from "node:util";
import mc from "mc";
import { queueChecks } from "./queue_checks.mjs";
import { check, expect, host, port, skip, version } from "./report.mjs";

version(createRequire(import.meta.url)("mc/package.json").version);

async function connect() {
  const client = new mc.Client(`${host}:${port}`, mc.Adapter.raw);
  const call = (method) => promisify(client[method].bind(client));
  const [set, get] = [call("set"), call("get")];
  /** The results by key (a raw result: buffer and flags), or {} for a miss. */
  const results = (keys) => get(keys).catch((error) => (error?.type === "NOT_FOUND" ? {} : Promise.reject(error)));
  await call("connect")();
  return {
    results,
    get: async (key) => (await results(key))[key]?.buffer,
    set: (key, value, flags = 0) => set(key, value, { flags }),
    getMulti: async (keys) => Object.fromEntries(Object.entries(await results(keys)).map(([key, item]) => [key, item.buffer])),
    gets: call("gets"),
    stats: call("stats"),
    close: () => client.disconnect(),
  };
}

const c = await connect();
await queueChecks(c, connect);

await check("types", async (q) => {
  const flags = [1, 42, 0xffff, 0xdeadbeef];
  for (const flag of flags) await c.set(q, `flags ${flag}`, flag);
  const got = [];
  for (const _ of flags) got.push((await c.results(q))[q]?.flags);
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

await check("stats", async (q) => {
  await c.set(q, "s");
  const [{ [`queue_${q}_items`]: items, version: server }] = await c.stats();
  expect(items, "1", "queue items stat");
  if (Number(String(server).split(".")[0]) < 1) throw new Error(`version ${server}`);
  return `version ${server}`;
});

c.close();
