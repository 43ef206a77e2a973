import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KESTREL_1_2, KESTREL_FIXTURES, type KestrelFixture } from "../helpers/kestrel_fixtures.ts";
import { KestrelJournalBuilder, writeKestrelFiles } from "../helpers/kestrel_journal.ts";
import { ServerProcess } from "../helpers/server.ts";

const IMPORTED = /imported the Kestrel journal/;

/** A server, stopped, whose queue_path holds the files of `fixtures`. */
async function stoppedWith(fixtures: readonly KestrelFixture[]): Promise<ServerProcess> {
  const server = await ServerProcess.start();
  await server.stop();
  for (const fixture of fixtures) writeKestrelFiles(server.dataDir, fixture.files);
  return server;
}

/** Gets every item of `queue`, one `get` at a time. */
async function served(server: ServerProcess, queue: string): Promise<string[]> {
  const c = await server.client();
  const items = await c.drain(queue);
  c.close();
  return items;
}

describe("importing Kestrel journals", () => {
  test("a Kestrel 2 journal with a reliable read in it replays exactly", async () => {
    const server = await ServerProcess.start();
    await server.stop();
    writeFileSync(join(server.dataDir, "jobs"), new KestrelJournalBuilder().addx("a").addx("b").removeTentativeXid(1).confirmRemove(1).addx("c").build());
    const again = await server.restart();
    expect(await served(again, "jobs")).toEqual(["b", "c"]);
    await again.stop();
    again.removeData();
  });

  test("the journals of Kestrel 1.2, 1.3 and 2.4 are served as Kestrel would serve them, item by item, once converted", async () => {
    const server = await stoppedWith(KESTREL_FIXTURES);
    const first = await server.restart();
    for (const fixture of KESTREL_FIXTURES) {
      expect(first.output).toContain(`queue '${fixture.queue}': imported the Kestrel journal`);
      const left = readdirSync(first.dataDir).filter((file) => file.startsWith(fixture.queue));
      expect(left).toEqual([fixture.queue]);
      for (const [file, bytes] of Object.entries(fixture.files)) {
        expect(readFileSync(join(first.dataDir, "imported", file))).toEqual(Buffer.from(bytes));
      }
    }
    expect(readdirSync(join(first.dataDir, "imported")).sort()).toEqual(KESTREL_FIXTURES.flatMap((fixture) => Object.keys(fixture.files)).sort());
    const c = await first.client();
    expect(await c.set("imported", "x")).toBe("STORED");
    expect(await c.drain("imported")).toEqual(["x"]);
    c.close();
    await first.stop();

    const second = await first.restart();
    expect(second.output).not.toMatch(IMPORTED);
    for (const fixture of KESTREL_FIXTURES) expect({ queue: fixture.queue, items: await served(second, fixture.queue) }).toEqual({ queue: fixture.queue, items: [...fixture.expected] });
    await second.stop();
    second.removeData();
  });

  test("a queue whose name our file names escape is found under Kestrel's file names and imported under its own name", async () => {
    const files = {
      "orders:eu.1700000000000": new KestrelJournalBuilder().addx("o-1").addx("o-2").removeTentativeXid(1).build(),
      "orders:eu": new KestrelJournalBuilder().addx("o-3").confirmRemove(1).build(),
    };
    const server = await ServerProcess.start();
    await server.stop();
    writeKestrelFiles(server.dataDir, files);
    const again = await server.restart();
    expect(readdirSync(again.dataDir).filter((file) => file.startsWith("orders"))).toEqual(["orders%3Aeu"]);
    expect(readdirSync(join(again.dataDir, "imported")).sort()).toEqual(Object.keys(files).sort());
    expect(await served(again, "orders:eu")).toEqual(["o-2", "o-3"]);
    await again.stop();
    again.removeData();
  });

  test("a later import of names already in imported/ goes to imported/2/, leaving the first one's files as they were", async () => {
    const server = await stoppedWith([KESTREL_1_2]);
    const first = await server.restart();
    const c = await first.client();
    expect(await c.call("delete k12")).toBe("DELETED");
    c.close();
    await first.stop();
    const original = statSync(join(first.dataDir, "imported", "k12")).ino;
    writeKestrelFiles(first.dataDir, KESTREL_1_2.files);
    const second = await first.restart();
    expect(await served(second, "k12")).toEqual([...KESTREL_1_2.expected]);
    expect(statSync(join(second.dataDir, "imported", "k12")).ino).toBe(original);
    expect(readdirSync(join(second.dataDir, "imported", "2")).sort()).toEqual(Object.keys(KESTREL_1_2.files).sort());
    await second.stop();
    second.removeData();
  });
});
