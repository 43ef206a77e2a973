/**
 * The log over a pipe nobody reads for a while (Bun makes stderr non-blocking): lines are kept and
 * written in order as the pipe takes them, not dropped; past the bound, the ones dropped are
 * counted in the log.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { tempDir } from "./helpers/temp_dir.ts";

const FLOOD = join(import.meta.dir, "helpers", "log_flood.ts");

/**
 * Runs the flood with its stderr into a pipe whose reader starts only once every line is logged
 * (a shell pipeline: Bun.spawn would read the pipe at once); returns the lines it wrote.
 */
async function floodWithLateReader(lines: number): Promise<string[]> {
  const logged = join(tempDir(), "logged");
  const waitForLogged = `while [ ! -e "${logged}" ]; do sleep 0.01; done`;
  const script = `"${process.execPath}" "${FLOOD}" ${lines} "${logged}" 2>&1 >/dev/null | (${waitForLogged}; cat)`;
  const child = Bun.spawn(["sh", "-c", script], { stdout: "pipe", stderr: "inherit" });
  const text = await new Response(child.stdout as ReadableStream<Uint8Array>).text();
  expect(await child.exited).toBe(0);
  return text.split("\n").filter((line) => line !== "");
}

test("a full stderr pipe loses no log line: they arrive complete and in order", async () => {
  const lines = await floodWithLateReader(5000);
  expect(lines.length).toBe(5000);
  lines.forEach((line, i) => expect(line).toMatch(new RegExp(`WARN  flood line ${i} x{60}$`)));
}, 30_000);

test("past 1 MiB kept, lines are dropped and counted, and the count is logged", async () => {
  const total = 30_000; // about 3 MB of lines
  const lines = await floodWithLateReader(total);
  const dropped = lines.map((line) => /WARN  (\d+) log line\(s\) dropped/.exec(line)).find((match) => match !== null);
  expect(dropped).toBeDefined();
  const kept = lines.filter((line) => line.includes("flood line"));
  expect(kept.length + Number(dropped![1])).toBe(total);
  const numbers = kept.map((line) => Number(/flood line (\d+)/.exec(line)![1]));
  expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
}, 30_000);
