import { expect, test } from "bun:test";
import { LoadgenError, loadgenArgs, parseLoadgenOutput, problemsOf, queueNames, type LoadgenOptions } from "../../bench/lib/loadgen.ts";

/** Output as bench/loadgen/loadgen.c prints it (one line, fields in its order). */
const OUTPUT = JSON.stringify({
  protocol: "memcache",
  producers: 10,
  consumers: 10,
  queues: 1,
  item_size: 1024,
  pipeline: 1,
  reliable: false,
  wait_ms: 500,
  check: "queue",
  threads: 1,
  warmup_seconds: 1,
  wall_seconds: 2.000512,
  cpu_user_seconds: 0.1,
  cpu_system_seconds: 0.3,
  produced: 30000,
  consumed: 29990,
  misses: 2,
  produced_per_second: 14996.2,
  consumed_per_second: 14991.2,
  put_latency_us: { count: 30000, p50: 606.2, p99: 1851.4, p999: 7798.8, max: 9550.5 },
  take_latency_us: { count: 29990, p50: 598.1, p99: 1802.2, p999: 7471.1, max: 9547.6 },
  total_acknowledged: 45000,
  total_unacknowledged: 0,
  total_consumed: 45000,
  drained: true,
  lost: 0,
  failed_connections: 0,
  errors: 0,
  error_samples: [],
});

test("the generator's JSON becomes a typed result, field by field", () => {
  const result = parseLoadgenOutput(`${OUTPUT}\n`);
  expect(result.producedPerSecond).toBe(14996.2);
  expect(result.consumed).toBe(29990);
  expect(result.misses).toBe(2);
  expect(result.put).toEqual({ count: 30000, p50: 606.2, p99: 1851.4, p999: 7798.8, max: 9550.5 });
  expect(result.take.p999).toBe(7471.1);
  expect(result.cpuUserSeconds + result.cpuSystemSeconds).toBeCloseTo(0.4);
  expect(result.drained).toBe(true);
  expect(result.lost).toBe(0);
  expect(result.errorSamples).toEqual([]);
});

test("lost is null when the generator could not account for every item", () => {
  expect(parseLoadgenOutput(OUTPUT.replace('"lost":0', '"lost":null')).lost).toBeNull();
});

test("output that is not a result is refused, naming the field", () => {
  expect(() => parseLoadgenOutput("loadgen: connect failed")).toThrow(LoadgenError);
  expect(() => parseLoadgenOutput("[]")).toThrow("is not an object");
  expect(() => parseLoadgenOutput(OUTPUT.replace('"produced":30000,', ""))).toThrow("field produced should be a number, got undefined");
  expect(() => parseLoadgenOutput(OUTPUT.replace('"drained":true', '"drained":1'))).toThrow("field drained should be true or false");
  expect(() => parseLoadgenOutput(OUTPUT.replace('"error_samples":[]', '"error_samples":[3]'))).toThrow("field error_samples should be a list of strings");
  expect(() => parseLoadgenOutput(OUTPUT.replace('"p99":1851.4', '"p99":"1851.4"'))).toThrow("field put_latency_us field p99 should be a number");
  expect(() => parseLoadgenOutput(OUTPUT.replace(/"take_latency_us":\{[^}]*\},/, ""))).toThrow("field take_latency_us should be an object");
});

test("options become the generator's arguments; the window is seconds or an item count", () => {
  const options: LoadgenOptions = {
    port: 22133,
    protocol: "redis",
    producers: 50,
    consumers: 40,
    queues: 100,
    queuePrefix: "lg_r1_2",
    itemSize: 65536,
    pipeline: 16,
    reliable: false,
    waitMs: 500,
    window: { seconds: 1.5 },
    warmupSeconds: 0.5,
    check: "queue",
    threads: 2,
  };
  const args = loadgenArgs(options);
  const value = (flag: string) => args[args.indexOf(flag) + 1];
  expect([value("--port"), value("--protocol"), value("--producers"), value("--consumers")]).toEqual(["22133", "redis", "50", "40"]);
  expect([value("--queues"), value("--queue-prefix"), value("--size"), value("--pipeline")]).toEqual(["100", "lg_r1_2", "65536", "16"]);
  expect([value("--wait-ms"), value("--warmup"), value("--check"), value("--threads"), value("--seconds")]).toEqual(["500", "0.5", "queue", "2", "1.5"]);
  expect(args).not.toContain("--reliable");
  expect(args).not.toContain("--items");
  const counted = loadgenArgs({ ...options, reliable: true, window: { items: 5000 } });
  expect(counted).toContain("--reliable");
  expect(counted[counted.indexOf("--items") + 1]).toBe("5000");
  expect(counted).not.toContain("--seconds");
});

test("queue names are the prefix alone, or numbered when there are several", () => {
  expect(queueNames("lg", 1)).toEqual(["lg"]);
  expect(queueNames("lg", 3)).toEqual(["lg_0", "lg_1", "lg_2"]);
});

test("a clean run has no problems; each kind of fault is one line", () => {
  const clean = parseLoadgenOutput(OUTPUT);
  const load = { queue: true, producers: 10, consumers: 10 };
  expect(problemsOf(clean, load)).toEqual([]);
  const faulty = { ...clean, errors: 2, errorSamples: ["consumer 1: item 0/5 handed out twice", "run: 3 acknowledged items were never consumed"], failedConnections: 1, totalUnacknowledged: 4, drained: false };
  expect(problemsOf(faulty, load)).toEqual([
    "2 errors, first: consumer 1: item 0/5 handed out twice / run: 3 acknowledged items were never consumed",
    "1 connections failed",
    "4 puts were never acknowledged",
    "the queues were not drained after the window, so lost items could not be counted",
  ]);
  expect(problemsOf({ ...clean, drained: false }, { ...load, queue: false })).toEqual([]);
  expect(problemsOf({ ...clean, produced: 0, consumed: 0 }, load)).toEqual(["no put was acknowledged in the measured window", "no item was consumed in the measured window"]);
});
