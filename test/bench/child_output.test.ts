import { expect, test } from "bun:test";
import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FileOutput } from "../../bench/lib/child_output.ts";
import { tempDir } from "../helpers/temp_dir.ts";

test("a log file is read as it grows; a line is summarised once it is whole, and done reads the rest after the exit", async () => {
  const path = join(tempDir(), "child.log");
  writeFileSync(path, "");
  let exit = () => {};
  const output = new FileOutput(path, new Promise<void>((resolve) => (exit = resolve)));
  expect(output.text).toBe("");
  appendFileSync(path, "2026-01-01T00:00:00.000Z INFO  listening on 127.0.0.1:4000\n2026-01-01T00:00:00.001Z WARN  half");
  expect(output.text).toContain("listening on 127.0.0.1:4000");
  expect(output.summary.warnings).toBe(0);
  appendFileSync(path, " and the other half é\n2026-01-01T00:00:00.002Z ERROR last\n");
  exit();
  await output.done;
  expect([output.summary.warnings, output.summary.errors]).toEqual([1, 1]);
  expect([...output.summary.kinds.keys()]).toEqual(["WARN half and the other half é", "ERROR last"]);
  expect(output.text.endsWith("ERROR last\n")).toBe(true);
});
