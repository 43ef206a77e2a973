/**
 * One client write big enough that one queue's journal records in one event-loop turn fill
 * several batch arenas: sets, gets and reliable reads mixed, then a restart. What comes back must
 * be exactly what was acknowledged and not consumed (the reproduction of issue 8, item 1).
 */
import { expect, test } from "bun:test";
import type { TestClient } from "../helpers/client.ts";
import { ServerProcess } from "../helpers/server.ts";

const setOf = (queue: string, data: string) => `set ${queue} 0 0 ${data.length}\r\n${data}\r\n`;

/** Reads `count` replies of plain gets; returns the values (null for END). */
async function readGets(c: TestClient, count: number): Promise<Array<string | null>> {
  const out: Array<string | null> = [];
  for (let i = 0; i < count; i++) {
    const value = await c.readValue();
    out.push(value === null ? null : Buffer.from(value.data).toString());
  }
  return out;
}

for (const restart of ["stop", "kill -9"] as const) {
  test(`sets and gets in one write survive a ${restart} exactly`, async () => {
    const server = await ServerProcess.start();
    const c = await server.client();
    const queued = Array.from({ length: 5000 }, (_, i) => `old-${String(i).padStart(6, "0")}`);
    await c.send(queued.map((d) => setOf("big", d)).join(""));
    for (let i = 0; i < queued.length; i++) expect(await c.readLine()).toBe("STORED");

    const fresh = Array.from({ length: 1000 }, (_, i) => `new-${String(i).padStart(6, "0")}`);
    const commands = [...fresh.map((d) => setOf("big", d)), ...Array.from({ length: 2000 }, () => "get big\r\n")];
    await c.send(commands.join(""));
    for (let i = 0; i < fresh.length; i++) expect(await c.readLine()).toBe("STORED");
    expect(await readGets(c, 2000)).toEqual(queued.slice(0, 2000));
    c.close();
    if (restart === "stop") expect(await server.stop()).toBe(0);
    else await server.kill9();

    const again = await server.restart();
    const c2 = await again.client();
    expect(await c2.drain("big")).toEqual([...queued.slice(2000), ...fresh]);
    c2.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  });
}

test("reliable reads and aborts in one huge write replay exactly", async () => {
  const server = await ServerProcess.start();
  const c = await server.client();
  const items = Array.from({ length: 20_000 }, (_, i) => `item-${i}`);
  await c.send(items.map((d) => setOf("rel", d)).join(""));
  for (let i = 0; i < items.length; i++) expect(await c.readLine()).toBe("STORED");
  // 8,000 open+close pairs and 1,000 open+abort pairs, one write.
  const commands: string[] = [];
  for (let i = 0; i < 8000; i++) commands.push("get rel/open\r\n", "get rel/close\r\n");
  for (let i = 0; i < 1000; i++) commands.push("get rel/open\r\n", "get rel/abort\r\n");
  await c.send(commands.join(""));
  for (let i = 0; i < 8000; i++) {
    expect((await c.readValue())?.key).toBe("rel/open");
    expect(await c.readLine()).toBe("END");
  }
  for (let i = 0; i < 1000; i++) {
    expect((await c.readValue())?.key).toBe("rel/open");
    expect(await c.readLine()).toBe("END");
  }
  c.close();
  await server.kill9();
  const again = await server.restart();
  const c2 = await again.client();
  expect(await c2.drain("rel")).toEqual(items.slice(8000));
  c2.close();
  expect(await again.stop()).toBe(0);
  again.removeData();
});
