// memcached (npm) against kestrel (test/clients/run.ts). retries: 0 and remove: false, so a failed
// check does not take the server out of the client's pool; poolSize: 1 so open and close go out on
// one connection; maxValue above 1 MiB because a Buffer is sent as a "binary" string whose UTF-8
// length can be up to twice its size. It escapes CR and LF in values itself, so its values read
// back correctly only through the same client. It has no noreply.
import { createRequire } from "node:module";
import { promisify } from "node:util";
import Memcached from "memcached";
import { queueChecks } from "./queue_checks.mjs";
import { check, expect, host, port, skip, TYPED, version } from "./report.mjs";

version(createRequire(import.meta.url)("memcached/package.json").version);

function connect() {
  const client = new Memcached(`${host}:${port}`, { retries: 0, remove: false, timeout: 5000, maxValue: 4 << 20, poolSize: 1 });
  const call = (method) => promisify(client[method].bind(client));
  const set = call("set");
  return {
    get: call("get"),
    set: (key, value) => set(key, value, 0),
    getMulti: call("getMulti"),
    gets: call("gets"),
    stats: call("stats"),
    version: call("version"),
    close: () => client.end(),
  };
}

const c = connect();
await queueChecks(c, connect);

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

await check("stats", async (q) => {
  await c.set(q, "s");
  const [stats] = await c.stats();
  expect(stats[`queue_${q}_items`], 1, "queue items stat");
  const [{ version: server, major }] = await c.version();
  if (Number(major) < 1) throw new Error(`version ${server}`);
  return `version ${server}`;
});

c.close();
