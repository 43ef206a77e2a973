/**
 * The resident set read from /proc/self/statm agrees with Bun's own figure, follows memory as it
 * is touched, and the statm line is parsed by its second field.
 */
import { expect, test } from "bun:test";
import { residentBytes, residentPages } from "../../src/server/resident_memory.ts";

const MiB = 1024 * 1024;

test("statm's second field is the resident page count", () => {
  const line = new TextEncoder().encode("1234 5678 90 12 0 345 0\n");
  expect(residentPages(line, line.length)).toBe(5678);
});

test("agrees with process.memoryUsage.rss() and grows with memory touched", () => {
  const before = residentBytes();
  expect(Math.abs(before - process.memoryUsage.rss())).toBeLessThan(8 * MiB);
  const touched = new Uint8Array(64 * MiB).fill(1);
  const after = residentBytes();
  expect(after - before).toBeGreaterThan(48 * MiB);
  expect(Math.abs(after - process.memoryUsage.rss())).toBeLessThan(8 * MiB);
  expect(touched[touched.length - 1]).toBe(1);
});
