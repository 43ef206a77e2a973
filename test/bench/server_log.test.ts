import { expect, test } from "bun:test";
import { LineSplitter, LogSummary, describeReplay, replayLines, startupTimes } from "../../bench/lib/server_log.ts";

test("a log read in chunks cut anywhere gives the same whole lines", () => {
  const log = "2026-01-01T00:00:00.000Z WARN  queue 'a': one\n2026-01-01T00:00:00.001Z ERROR two 12\n2026-01-01T00:00:00.002Z INFO  three\n";
  for (let size = 1; size <= log.length; size++) {
    const lines = new LineSplitter();
    const summary = new LogSummary();
    let seen = "";
    for (let at = 0; at < log.length; at += size) {
      const whole = lines.push(log.slice(at, at + size));
      seen += whole;
      summary.add(whole);
    }
    expect(seen).toBe(log);
    expect([summary.warnings, summary.errors]).toEqual([1, 1]);
    expect([...summary.kinds.keys()]).toEqual(["WARN queue 'a': one", "ERROR two N"]);
  }
});

test("replay summary lines are read in the current and the older format; progress lines are not summaries", () => {
  const log = [
    "2026-01-01T00:00:01.000Z INFO  queue 'q': replayed 120.0 of 380.5 MiB (240 MiB/s, 2100000 records/s)",
    "2026-01-01T00:00:02.000Z INFO  queue 'q': replayed 380.5 MiB, 3000004 records in 1.6 s (238 MiB/s, 1875002 records/s)",
    "2026-01-01T00:00:02.000Z INFO  queue 'old': replayed 12.5 MiB in 0.2 s (62 MiB/s)",
  ].join("\n");
  const [current, older, ...rest] = replayLines(log);
  expect(rest).toEqual([]);
  expect(current).toEqual({ queue: "q", mib: 380.5, records: 3000004, seconds: 1.6, mibPerSecond: 238, recordsPerSecond: 1875002 });
  expect(older).toEqual({ queue: "old", mib: 12.5, records: null, seconds: 0.2, mibPerSecond: 62, recordsPerSecond: null });
  expect(describeReplay(current!)).toBe("380.5 MiB, 3000004 records in 1.6 s (238 MiB/s, 1875002 records/s)");
  expect(describeReplay(older!)).toBe("12.5 MiB in 0.2 s (62 MiB/s)");
});

test("a start's milestones are the log's own timestamps after the spawn", () => {
  const spawnedAt = Date.parse("2026-01-01T00:00:00.000Z");
  const log = [
    "2026-01-01T00:00:00.150Z INFO  config: kestrel.toml",
    "2026-01-01T00:00:02.000Z INFO  queue 'q': replayed 1.0 MiB in 1.5 s (1 MiB/s)",
    "2026-01-01T00:00:02.250Z INFO  listening on 127.0.0.1:4000",
  ].join("\n");
  const startup = startupTimes(log, spawnedAt);
  expect([startup.firstLogMs, startup.listeningMs, startup.replay?.mib]).toEqual([150, 2250, 1]);
  expect(startupTimes("2026-01-01T00:00:00.150Z INFO  config: kestrel.toml", spawnedAt)).toMatchObject({ listeningMs: NaN, replay: null });
});
