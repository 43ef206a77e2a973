import { describe, expect, test } from "bun:test";
import { appendFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KestrelJournalBuilder } from "../helpers/kestrel_journal.ts";
import { runKestrel, ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

describe("kestrel qdump", () => {
  test("lists a server's journal record by record; --verify passes a clean file", async () => {
    const server = await ServerProcess.start();
    const c = await server.client();
    await c.set("jobs", "first job");
    await c.set("jobs", "second\x00job", 3600, 4294967295);
    expect(await c.get("jobs/open")).toBe("first job");
    expect(await c.get("jobs/close")).toBeNull();
    c.close();
    await server.stop();
    const file = join(server.dataDir, "jobs");

    const dump = await runKestrel(["qdump", file]);
    expect(dump.code).toBe(0);
    const lines = dump.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^\s+offset\s+opcode\s+id\/xid\s+size\s+flags\s+expiry\s+data$/);
    expect(lines[1]).toMatch(/^\s+16\s+ADD\s+1\s+9\s+0\s+-\s+"first job"$/);
    expect(lines[2]).toMatch(/^\s+\d+\s+ADD\s+2\s+10\s+4294967295\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+"second\\x00job"$/);
    expect(lines[3]).toMatch(/^\s+\d+\s+OPEN\s+1$/);
    expect(lines[4]).toMatch(/^\s+\d+\s+REMOVE\s+1$/);
    expect(lines[5]).toBe(`${file}: current format, ${Bun.file(file).size} bytes, 4 intact records, no damage`);

    const verify = await runKestrel(["qdump", "--verify", file]);
    expect(verify.code).toBe(0);
    server.removeData();
  });

  test("--verify names the first damage and exits 1; --repair quarantines it and leaves a clean file", async () => {
    const server = await ServerProcess.start();
    const c = await server.client();
    for (const data of ["a", "b", "c"]) await c.set("q", data);
    c.close();
    await server.stop();
    const file = join(server.dataDir, "q");
    const size = Bun.file(file).size;
    appendFileSync(file, "\xa7 torn");

    const verify = await runKestrel(["qdump", "--verify", file]);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toContain(`DAMAGED at offset ${size} (torn or corrupt tail)`);
    const dump = await runKestrel(["qdump", file]);
    expect(dump.code).toBe(1);
    expect(dump.stdout).toContain(`DAMAGE ${size}-${size + 7} (7 bytes): torn or corrupt tail`);

    const repair = await runKestrel(["qdump", "--repair", file]);
    expect(repair.code).toBe(0);
    expect(repair.stderr).toContain("journal damaged; kept 3 records");
    expect(readdirSync(join(server.dataDir, ".kestrel", "quarantine"))).toEqual([expect.stringMatching(new RegExp(`^q\\..*\\.${size}-${size + 7}\\.bad$`))]);
    expect((await runKestrel(["qdump", "--verify", file])).code).toBe(0);

    const again = await server.restart();
    const c2 = await again.client();
    expect(await c2.get("q")).toBe("a");
    c2.close();
    await again.stop();
    again.removeData();
  });

  test("reads Kestrel's format and converts it with --repair", async () => {
    const dir = tempDir();
    const file = join(dir, "old");
    writeFileSync(file, new KestrelJournalBuilder().addx("x").add("y").removeTentative().saveXid(5).confirmRemove(1).build());
    const dump = await runKestrel(["qdump", file]);
    expect(dump.code).toBe(0);
    expect(dump.stdout).toMatch(/\n\s+0\s+ADDX\s+1\s+-\s+"x"\n/);
    expect(dump.stdout).toMatch(/\s+REMOVE_TENTATIVE\n/);
    expect(dump.stdout).toMatch(/\s+SAVE_XID\s+5\n/);
    expect(dump.stdout).toContain(": Kestrel format,");
    expect((await runKestrel(["qdump", "--repair", file])).code).toBe(0);
    expect((await runKestrel(["qdump", file])).stdout).toContain(": current format,");
  });

  test("usage errors", async () => {
    expect((await runKestrel(["qdump"])).code).toBe(2);
    expect((await runKestrel(["qdump", "--verify", "--repair", "x"])).code).toBe(2);
    expect((await runKestrel(["qdump", "--port", "1", "x"])).code).toBe(2);
    const missing = await runKestrel(["qdump", "/nonexistent/journal"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("kestrel: /nonexistent/journal: ENOENT: no such file or directory, open '/nonexistent/journal'\n");
  });
});
