/**
 * Checks that a server's memory doesn't grow with its backlog: the resident set is sampled with
 * a small backlog and again with a much bigger one; a server that kept its items in memory would
 * have grown by about the difference.
 */
import { readFileSync } from "node:fs";
import { expect } from "bun:test";

export function residentMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (match === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) / 1024;
}

/**
 * Runs `grow(bytes)` to add backlog twice (a small amount, then `extraBytes` more) and fails if
 * the resident set grew by more than `allowedShare` of `extraBytes`.
 */
export async function expectMemoryNotToFollowBacklog(pid: number, grow: (bytes: number) => Promise<void>, extraBytes: number, allowedShare = 0.35): Promise<void> {
  await grow(extraBytes / 5);
  const before = residentMiB(pid);
  await grow(extraBytes);
  const after = residentMiB(pid);
  const grewMiB = after - before;
  const extraMiB = extraBytes / 1048576;
  expect(grewMiB).toBeLessThan(extraMiB * allowedShare);
}
