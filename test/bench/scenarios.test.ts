import { expect, test } from "bun:test";
import { DEFAULT_SCENARIOS, parseScenario, parseScenarioList, plainTwin } from "../../bench/lib/scenarios.ts";
import { SettingsError } from "../../bench/lib/settings.ts";

test("a name says the whole load; a bare number is that many on each side", () => {
  expect(parseScenario("10")).toEqual({ name: "10+10", producers: 10, consumers: 10, reliable: false, pipeline: 1, queues: 1, itemSize: 1024 });
  expect(parseScenario("50+20/64k/q100/reliable/pipe16")).toEqual({
    name: "50+20/reliable/pipe16/q100/64k",
    producers: 50,
    consumers: 20,
    reliable: true,
    pipeline: 16,
    queues: 100,
    itemSize: 65536,
  });
  expect(parseScenario("4+0").consumers).toBe(0);
});

test("every default scenario parses back to its own name", () => {
  for (const name of DEFAULT_SCENARIOS) expect(parseScenario(name).name).toBe(name);
});

test("bad names are refused, saying why", () => {
  expect(() => parseScenario("ten")).toThrow(new SettingsError('scenario "ten": expected <producers>+<consumers> (or one number for both) first'));
  expect(() => parseScenario("0+0")).toThrow(SettingsError);
  expect(() => parseScenario("10/fast")).toThrow('unknown modifier "fast"');
  for (const bad of ["10/pipe0", "10/q0", "10/0k", "10/pipe", "10/q1.5"]) expect(() => parseScenario(bad)).toThrow(SettingsError);
});

test("a list is split on commas and spaces; a load listed twice is refused", () => {
  expect(parseScenarioList("1, 10+10/reliable 50").map((s) => s.name)).toEqual(["1+1", "10+10/reliable", "50+50"]);
  expect(() => parseScenarioList("10,10+10")).toThrow("scenario 10+10 is listed twice");
  expect(() => parseScenarioList(" , ")).toThrow(SettingsError);
});

test("a reliable scenario's plain twin is the same load with plain takes", () => {
  expect(plainTwin(parseScenario("50+50/reliable/q100"))).toBe("50+50/q100");
  expect(plainTwin(parseScenario("50+50/q100"))).toBeNull();
});
