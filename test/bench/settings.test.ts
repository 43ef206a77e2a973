import { expect, test } from "bun:test";
import { SettingsError, integerListSetting } from "../../bench/lib/settings.ts";

test("a list setting reads comma-separated integers in range, the fallback when unset, and refuses anything else", () => {
  expect(integerListSetting({}, "L", "1,2,3", "numbers", 1, 8)).toEqual([1, 2, 3]);
  expect(integerListSetting({ L: " 6, 1 " }, "L", "1", "numbers", 1, 8)).toEqual([6, 1]);
  for (const bad of ["", "1,,2", "0", "9", "1.5", "a"]) {
    expect(() => integerListSetting({ L: bad }, "L", "1", "numbers from 1 to 8", 1, 8)).toThrow(new SettingsError(`L: expected numbers from 1 to 8, got "${bad}"`));
  }
});
