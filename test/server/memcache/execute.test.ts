import { expect, test } from "bun:test";
import { expiryFromExptime } from "../../../src/server/memcache/execute.ts";

const NOW = 1_795_000_000_000;

test("memcache exptime: 0 never, relative below 1,000,000 s, absolute above, negative already expired", () => {
  expect(expiryFromExptime(0, NOW)).toBe(0);
  expect(expiryFromExptime(30, NOW)).toBe(NOW + 30_000);
  expect(expiryFromExptime(999_999, NOW)).toBe(NOW + 999_999_000);
  expect(expiryFromExptime(1_000_000, NOW)).toBe(1_000_000_000);
  expect(expiryFromExptime(1_900_000_000, NOW)).toBe(1_900_000_000_000);
  expect(expiryFromExptime(-1, NOW)).toBeLessThanOrEqual(NOW);
  expect(expiryFromExptime(-1, NOW)).not.toBe(0);
});
