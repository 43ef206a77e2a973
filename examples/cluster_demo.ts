/**
 * A cluster walkthrough's client (docs/cluster.md): puts items through `kestrel-bun/client` to
 * every server given, consumes them back with several workers, and prints what it saw.
 *
 *   bun examples/cluster_demo.ts 127.0.0.1:22133,127.0.0.1:22134,127.0.0.1:22135 [items] [queue]
 *
 * (Bun runs the TypeScript as it is; from Node the client is the same import once built, see
 * docs/client.md.) Exit 0 when every item put came back, 1 otherwise.
 */
import { KestrelClient } from "kestrel-bun/client";

const [serverList, itemsArg = "1000", queue = "demo"] = process.argv.slice(2);
if (serverList === undefined) {
  process.stderr.write("usage: bun examples/cluster_demo.ts HOST:PORT[,HOST:PORT...] [items] [queue]\n");
  process.exit(2);
}
const items = Number(itemsArg);
const client = new KestrelClient({ servers: serverList.split(",") });
const started = performance.now();

const put = new Set<string>();
for (let i = 0; i < items; i++) {
  const value = `demo item ${i}`;
  await client.put(queue, value);
  put.add(value);
}
const putMs = performance.now() - started;

const seen = new Map<string, number>();
const stop = new AbortController();
const done = client.consume(
  queue,
  async (data) => {
    const value = new TextDecoder().decode(data);
    seen.set(value, (seen.get(value) ?? 0) + 1);
    if (seen.size === put.size) stop.abort();
  },
  { concurrency: 4, signal: stop.signal },
);
if (items === 0) stop.abort();
await done;

const duplicates = [...seen.values()].reduce((sum, n) => sum + n - 1, 0);
const missing = [...put].filter((v) => !seen.has(v)).length;
console.log(`put ${put.size} items in ${putMs.toFixed(0)} ms; consumed ${seen.size} (${duplicates} duplicates, ${missing} missing) in ${(performance.now() - started).toFixed(0)} ms`);
for (const view of client.servers()) console.log(`  ${view.server}  ${view.status}${view.lastError === null ? "" : `  last error: ${view.lastError}`}`);
await client.close();
process.exit(missing === 0 ? 0 : 1);
