/**
 * `item_buffer_bytes` and `item_live_bytes` (the buffers holding the bytes of items in memory,
 * queued and open, and the bytes those items use) in `stats`, /stats.json and /metrics.
 */
import { expect, test } from "bun:test";
import { ServerProcess } from "../helpers/server.ts";

test("item_buffer_bytes and item_live_bytes count queued and open items, in stats, /stats.json and /metrics", async () => {
  const server = await ServerProcess.start({ config: "admin_port = 0\njournal = false\n" });
  const c = await server.client();
  const figures = async () => {
    const stats = await c.stats();
    return [Number(stats.get("item_buffer_bytes")), Number(stats.get("item_live_bytes"))] as const;
  };
  expect(await figures()).toEqual([0, 0]);
  for (const data of ["a".repeat(100), "b".repeat(200), "c".repeat(300)]) expect(await c.set("q", data)).toBe("STORED");
  expect(await c.get("q/open")).toBe("a".repeat(100));
  const [buffers, live] = await figures();
  // The open item counts as well as the two queued.
  expect(live).toBe(600);
  expect(buffers).toBeGreaterThanOrEqual(live);

  const admin = await server.adminAddress();
  const json = (await (await fetch(`http://${admin}/stats.json`)).json()) as { server: Record<string, unknown> };
  expect(json.server).toMatchObject({ item_buffer_bytes: buffers, item_live_bytes: 600 });
  const metrics = await (await fetch(`http://${admin}/metrics`)).text();
  expect(metrics).toContain(`\nkestrel_item_buffer_bytes ${buffers}\n`);
  expect(metrics).toContain("\nkestrel_item_live_bytes 600\n");
  expect(metrics).toContain("# TYPE kestrel_item_live_bytes gauge\n");

  expect(await c.get("q/close")).toBeNull();
  expect(await c.get("q")).toBe("b".repeat(200));
  expect(await c.get("q")).toBe("c".repeat(300));
  expect(await figures()).toEqual([0, 0]);
  c.close();
});
