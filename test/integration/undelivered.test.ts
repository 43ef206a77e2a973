/**
 * Items taken for replies the client never got come back: a multi-key get that took an item for
 * one key and then blocked on another, with the client gone during the wait.
 */
import { expect, test } from "bun:test";
import { ServerProcess } from "../helpers/server.ts";

test("an item taken for an earlier key of a blocking multi-key get comes back when the client leaves during the wait", async () => {
  const server = await ServerProcess.start();
  const producer = await server.client();
  expect(await producer.set("a", "precious")).toBe("STORED");
  const consumer = await server.client();
  await consumer.send("get a b/t=60000\r\n");
  while ((await producer.stats()).get("queue_b_waiters") !== "1");
  consumer.close();
  while ((await producer.stats()).get("curr_connections") !== "1");
  expect((await producer.stats()).get("queue_a_items")).toBe("1");
  producer.close();
  expect(await server.stop()).toBe(0);
  const again = await server.restart();
  const c = await again.client();
  expect(await c.drain("a")).toEqual(["precious"]);
  c.close();
  expect(await again.stop()).toBe(0);
  again.removeData();
});
