/**
 * The server runs itself again once at start with Bun's allocator tuned (src/cli/allocator_tuning.ts):
 * the same process, its arguments kept, MIMALLOC_PURGE_DELAY set unless the operator set it.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { PURGE_DELAY_MS, PURGE_DELAY_VARIABLE } from "../../src/cli/allocator_tuning.ts";
import { ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const TUNING = join(import.meta.dir, "../../src/cli/allocator_tuning.ts");

/**
 * Runs, through a shell (a JS string can't hold bytes that are not UTF-8), a script that tunes the
 * allocator and prints, in hex, its command line, environment and name as the kernel has them after.
 */
async function tunedProcess(shellArgs: string, shellEnv = ""): Promise<{ cmdline: Buffer; environ: Buffer; comm: string }> {
  const dir = tempDir();
  const script = join(dir, "tuned.ts");
  writeFileSync(
    script,
    `import { readFileSync } from "node:fs";
import { tuneAllocator } from ${JSON.stringify(TUNING)};
tuneAllocator();
process.stdout.write(["cmdline", "environ", "comm"].map((file) => readFileSync(\`/proc/self/\${file}\`).toString("hex")).join(" "));
`,
  );
  const env = { ...process.env };
  delete env[PURGE_DELAY_VARIABLE];
  const shell = Bun.spawn(["/bin/sh", "-c", `${shellEnv} exec "$0" "$1" ${shellArgs}`, process.execPath, script], { env, stdout: "pipe" });
  const [cmdline, environ, comm] = (await new Response(shell.stdout).text()).split(" ").map((hex) => Buffer.from(hex!, "hex"));
  expect(await shell.exited).toBe(0);
  return { cmdline: cmdline!, environ: environ!, comm: comm!.toString().trim() };
}

/** The NUL-terminated strings of a /proc file, as bytes. */
function strings(bytes: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  for (let start = 0; start < bytes.length; ) {
    const end = bytes.indexOf(0, start);
    parts.push(bytes.subarray(start, end));
    start = end + 1;
  }
  return parts;
}

/** A process's environment variable, as the kernel has it (/proc/<pid>/environ), or undefined. */
function environOf(pid: number, name: string): string | undefined {
  const entry = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").find((line) => line.startsWith(`${name}=`));
  return entry?.slice(name.length + 1);
}

describe.skipIf(process.platform !== "linux")("allocator tuning", () => {
  test.skipIf(process.env[PURGE_DELAY_VARIABLE] !== undefined)("the server runs with the purge delay set, as the process it was started as, and serves", async () => {
    const server = await ServerProcess.start();
    expect(environOf(server.proc.pid, PURGE_DELAY_VARIABLE)).toBe(String(PURGE_DELAY_MS));
    expect(readFileSync(`/proc/${server.proc.pid}/cmdline`, "utf8").split("\0")).toContain(server.dataDir);
    const c = await server.client();
    expect(await c.set("q", "kept")).toBe("STORED");
    expect(await c.get("q")).toBe("kept");
    c.close();
    expect(await server.stop()).toBe(0);
    server.removeData();
  });

  test("an operator's own purge delay is kept", async () => {
    const server = await ServerProcess.start({ env: { [PURGE_DELAY_VARIABLE]: "250" } });
    expect(environOf(server.proc.pid, PURGE_DELAY_VARIABLE)).toBe("250");
    expect(await server.stop()).toBe(0);
    server.removeData();
  });

  test.skipIf(process.env[PURGE_DELAY_VARIABLE] !== undefined)("arguments and environment values go to the new program byte for byte, UTF-8 or not, empty, with spaces, '=' or newlines", async () => {
    const { cmdline, environ } = await tunedProcess(`"a b" "" "$(printf 'caf\\303\\251')" "$(printf '/tmp/k\\377')"`, `KESTREL_TEST_RAW="$(printf 'x=\\377\\ny')"`);
    expect(strings(cmdline).slice(2)).toEqual([Buffer.from("a b"), Buffer.from(""), Buffer.from("café"), Buffer.from([...Buffer.from("/tmp/k"), 0xff])]);
    const environment = strings(environ);
    expect(environment).toContainEqual(Buffer.from([...Buffer.from("KESTREL_TEST_RAW=x="), 0xff, 0x0a, ...Buffer.from("y")]));
    expect(environment).toContainEqual(Buffer.from(`${PURGE_DELAY_VARIABLE}=${PURGE_DELAY_MS}`));
  });

  test.skipIf(process.env[PURGE_DELAY_VARIABLE] !== undefined)("the process keeps its name (ps, pgrep, killall and top show it, not `exe`)", async () => {
    const { comm } = await tunedProcess("");
    // The kernel names a process after the file its execve was given, cut to 15 bytes.
    expect(comm).toBe(basename(process.execPath).slice(0, 15));
  });
});
