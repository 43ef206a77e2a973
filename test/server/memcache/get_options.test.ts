import { describe, expect, test } from "bun:test";
import { parseGetKey, parseGetKeyCached } from "../../../src/server/memcache/get_options.ts";

describe("parseGetKey", () => {
  test("options in any order; the key is kept as sent", () => {
    expect(parseGetKey("jobs/t=250/open")).toEqual({ key: "jobs/t=250/open", queue: "jobs", timeoutMs: 250, open: true, close: false, abort: false, peek: false });
    expect(parseGetKey("jobs/close/open")).toMatchObject({ queue: "jobs", open: true, close: true });
    expect(parseGetKey("jobs")).toMatchObject({ queue: "jobs", timeoutMs: 0, open: false, peek: false });
  });

  test("options are case-insensitive, as command names are; the queue name is not folded", () => {
    expect(parseGetKey("Jobs/OPEN/T=100")).toEqual({ key: "Jobs/OPEN/T=100", queue: "Jobs", timeoutMs: 100, open: true, close: false, abort: false, peek: false });
    expect(parseGetKey("jobs/Close/Abort")).toBe("abort can't be combined with open or close");
    expect(parseGetKey("jobs/PeEk")).toMatchObject({ peek: true });
  });

  test("a negative t= is no wait, as in Kestrel (its deadline is already past)", () => {
    expect(parseGetKey("jobs/t=-5")).toMatchObject({ queue: "jobs", timeoutMs: 0 });
  });

  test("bad options and mixes are reasons, named as sent", () => {
    expect(parseGetKey("jobs/OPN")).toBe("unknown option 'OPN'");
    expect(parseGetKey("jobs/t=x")).toBe("unknown option 't=x'");
    expect(parseGetKey("jobs/peek/open")).toBe("peek can't be combined with open, close or abort");
    expect(parseGetKey("../x/open")).toBe("bad queue name '..'");
  });
});

describe("parseGetKeyCached", () => {
  test("answers as parseGetKey, for valid and invalid keys, before and after the cache fills up", () => {
    const keys = ["jobs/t=250/open", "jobs", "jobs/OPN", "../x/open", "Jobs/OPEN/T=100"];
    for (let round = 0; round < 3; round++) {
      for (const key of keys) expect(parseGetKeyCached(key)).toEqual(parseGetKey(key));
      // Enough other keys to empty the cache in between.
      for (let i = 0; i < 1500; i++) expect(parseGetKeyCached(`q${i}/t=${i}`)).toMatchObject({ queue: `q${i}`, timeoutMs: i });
    }
  });
});
