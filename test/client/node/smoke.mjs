// Run by test/client/package_export.test.ts with Node (not Bun): imports the client the way a
// user's Node program does, through the package's `exports`, and drives one server whose
// address is the first argument. Prints one JSON line of what it saw.
import { KestrelClient, NoServerError } from "kestrel-bun/client";

const client = new KestrelClient({ servers: [process.argv[2]] });
await client.put("node", "from node");
await client.put("node", new Uint8Array([0, 1, 2, 255]));
const first = await client.open("node", { timeoutMs: 1000 });
await first.abort();
const again = await client.open("node");
await again.close();
const second = await client.get("node", { timeoutMs: 1000 });
const empty = await client.get("node", { timeoutMs: 50 });
const stop = new AbortController();
await client.put("node", "consumed");
const consumed = [];
await client.consume("node", async (data) => {
  consumed.push(Buffer.from(data).toString());
  stop.abort();
}, { signal: stop.signal });
await client.close();
const dead = new KestrelClient({ servers: ["127.0.0.1:1"], retryForMs: 100 });
const error = await dead.put("node", "x").catch((caught) => caught);
await dead.close();
console.log(JSON.stringify({
  node: process.versions.node,
  bun: process.versions.bun ?? null,
  first: Buffer.from(first.data).toString(),
  again: Buffer.from(again.data).toString(),
  server: again.server,
  second: [...second],
  empty,
  consumed,
  error: error instanceof NoServerError ? error.name : String(error),
}));
