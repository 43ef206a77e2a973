/**
 * One client's burst doesn't hold up the others: a connection executes its pipelined requests a
 * few milliseconds per event-loop turn, and the rest wait for later turns; a text `put` of many
 * items is added a slice per turn.
 */
import { expect, test } from "bun:test";
import { ServerProcess, freePort } from "../helpers/server.ts";

test("a burst of sets to a fanout parent is served in slices: another client is answered before it ends", async () => {
  const server = await ServerProcess.start();
  const burst = await server.client();
  const other = await server.client();
  for (let child = 0; child < 50; child++) expect(await burst.get(`fan+c${child}`)).toBeNull();
  const SETS = 3000;
  let request = "";
  for (let i = 0; i < SETS; i++) request += `set fan 0 0 8\r\n${String(i).padStart(8, "0")}\r\n`;
  const order: string[] = [];
  const started = Promise.withResolvers<void>();
  const burstDone = (async () => {
    await burst.send(request);
    for (let i = 0; i < SETS; i++) {
      expect(await burst.readLine()).toBe("STORED");
      if (i === 0) started.resolve();
    }
    order.push("burst");
  })();
  // Sent once the server is into the burst (its first reply is out).
  await started.promise;
  expect(await other.call("version")).toMatch(/^VERSION /);
  order.push("other");
  await burstDone;
  expect(order).toEqual(["other", "burst"]);
  expect((await other.stats()).get("queue_fan+c49_items")).toBe(String(SETS));
  burst.close();
  other.close();
  await server.stop();
  server.removeData();
}, 120_000);

test("a text put of 1024 items to a fanout parent is added in slices: another client sees it part-way", async () => {
  const server = await ServerProcess.start({ config: `text_port = ${freePort()}\n` });
  const other = await server.client();
  const names = Array.from({ length: 200 }, (_, child) => `tfan+c${child}`);
  for (let i = 0; i < names.length; i += 50) expect(await other.call(`get ${names.slice(i, i + 50).join(" ")}`)).toBe("END");
  const putter = await server.textClient();
  await putter.send(`put tfan:\n${Array.from({ length: 1024 }, (_, i) => `item-${i}`).join("\n")}\n\n`);
  let replied = false;
  const reply = putter.readLine().finally(() => (replied = true));
  const seen: number[] = [];
  // Each stats is a round trip, answered between the put's slices.
  while (!replied) seen.push(Number((await other.stats()).get("queue_tfan+c199_items") ?? 0));
  expect(await reply).toBe("+1024");
  expect(seen.some((items) => items > 0 && items < 1024)).toBe(true);
  expect((await other.stats()).get("queue_tfan+c199_items")).toBe("1024");
  putter.close();
  other.close();
  await server.stop();
  server.removeData();
}, 120_000);
