import { expect, test } from "bun:test";
import { DEFAULT_SVG_PATH, expectedLoadgenSeconds, readLoadgenSettings } from "../../bench/lib/loadgen_settings.ts";
import { DEFAULT_SCENARIOS } from "../../bench/lib/scenarios.ts";
import { SettingsError } from "../../bench/lib/settings.ts";

const KNOWN = ["kestrel", "memcached", "redis everysec"];

test("unset, every target and default scenario runs for 3 s in 3 rounds and the chart goes to docs/", () => {
  const settings = readLoadgenSettings({}, KNOWN);
  expect(settings.window).toEqual({ seconds: 3 });
  expect(settings.rounds).toBe(3);
  expect(settings.warmupSeconds).toBe(1);
  expect(settings.targets).toEqual(KNOWN);
  expect(settings.scenarios.map((s) => s.name)).toEqual([...DEFAULT_SCENARIOS]);
  expect(settings.svgPath).toBe(DEFAULT_SVG_PATH);
  expect(DEFAULT_SVG_PATH).toEndWith("docs/performance.svg");
});

test("a short run picks its scenarios, targets (kept in table order), window and chart", () => {
  const env = { BENCH_SECONDS: "0.5", BENCH_WARMUP_SECONDS: "0", BENCH_ROUNDS: "1", BENCH_SCENARIOS: "10+10/reliable", BENCH_TARGETS: "redis everysec, kestrel", BENCH_SVG: "" };
  const settings = readLoadgenSettings(env, KNOWN);
  expect(settings.window).toEqual({ seconds: 0.5 });
  expect(settings.warmupSeconds).toBe(0);
  expect(settings.targets).toEqual(["kestrel", "redis everysec"]);
  expect(settings.scenarios.map((s) => s.name)).toEqual(["10+10/reliable"]);
  expect(settings.svgPath).toBeNull();
  expect(readLoadgenSettings({ BENCH_ITEMS: "5000" }, KNOWN).window).toEqual({ items: 5000 });
});

test("bad values are refused up front, naming the variable", () => {
  const refused = (env: NodeJS.ProcessEnv, message: string) => expect(() => readLoadgenSettings(env, KNOWN)).toThrow(new SettingsError(message));
  refused({ BENCH_SECONDS: "0" }, 'BENCH_SECONDS: expected more than 0 seconds, got "0"');
  refused({ BENCH_SECONDS: "soon" }, 'BENCH_SECONDS: expected seconds (a number, 0 or more), got "soon"');
  refused({ BENCH_TARGETS: "kestrel,redis" }, 'BENCH_TARGETS: expected labels from "kestrel,memcached,redis everysec", got "kestrel,redis"');
  refused({ BENCH_ITEMS: "0" }, 'BENCH_ITEMS: expected a positive item count, got "0"');
  refused({ BENCH_THREADS: "65" }, 'BENCH_THREADS: expected a thread count from 1 to 64, got "65"');
  expect(() => readLoadgenSettings({ BENCH_SCENARIOS: "10+10/turbo" }, KNOWN)).toThrow(SettingsError);
});

test("the expected time counts warm-up, window and overhead of every run", () => {
  const settings = readLoadgenSettings({ BENCH_SECONDS: "2", BENCH_ROUNDS: "2" }, KNOWN);
  expect(expectedLoadgenSeconds(settings, 10)).toBe(5 + 2 * 10 * (1 + 2 + 0.5));
});
