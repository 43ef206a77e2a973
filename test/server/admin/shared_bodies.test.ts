import { describe, expect, test } from "bun:test";
import { SharedBodies, type Schedule } from "../../../src/server/admin/shared_bodies.ts";
import { countedRender, readAll } from "../../helpers/counted_render.ts";

/** A schedule whose timers run when the test says. */
function manualTimers() {
  const pending = new Set<() => void>();
  const schedule: Schedule = (run) => {
    pending.add(run);
    return () => pending.delete(run);
  };
  const fire = () => {
    const due = [...pending];
    pending.clear();
    for (const run of due) run();
  };
  return { schedule, pending, fire };
}

describe("SharedBodies", () => {
  test("requests for the same key read one body; another key gets its own", () => {
    const bodies = new SharedBodies(3, 4 * 1024 * 1024, manualTimers().schedule);
    const a = countedRender(5000);
    const b = countedRender(3000, (i) => `other ${i}\n`);
    const readers = [bodies.reader("a", a.render, a.onMade, 1000), bodies.reader("a", a.render, a.onMade, 1000), bodies.reader("b", b.render, b.onMade, 1000)];
    expect(readers.map(readAll)).toEqual([a.text, a.text, b.text]);
    expect([a.counts.renders, b.counts.renders]).toEqual([1, 1]);
    expect(a.counts.made).toBe(a.text.length);
    expect(bodies.size).toBe(2);
  });

  test("a body is kept for lingerMs after its last reader, for the same request a moment later; then let go", () => {
    const timers = manualTimers();
    const bodies = new SharedBodies(3, 4 * 1024 * 1024, timers.schedule);
    const body = countedRender(5000);
    const first = bodies.reader("view", body.render, body.onMade, 1000);
    expect(readAll(first)).toBe(body.text);
    first.close();
    expect(timers.pending.size).toBe(1);
    const second = bodies.reader("view", body.render, body.onMade, 1000);
    expect(timers.pending.size).toBe(0); // joined: no longer kept
    expect(readAll(second)).toBe(body.text);
    second.close();
    expect(body.counts.renders).toBe(1);
    timers.fire();
    expect(bodies.size).toBe(0);
    expect(readAll(bodies.reader("view", body.render, body.onMade, 1000))).toBe(body.text);
    expect(body.counts.renders).toBe(2);
  });

  test("with lingerMs 0 a body goes with its last reader", () => {
    const timers = manualTimers();
    const bodies = new SharedBodies(3, 4 * 1024 * 1024, timers.schedule);
    const body = countedRender(100);
    const reader = bodies.reader("snapshot 7", body.render, body.onMade, 0);
    readAll(reader);
    reader.close();
    expect([bodies.size, timers.pending.size]).toEqual([0, 0]);
  });

  test("at most maxBodies: a kept body gives its place, and with every place being read a request gets a body of its own", () => {
    const timers = manualTimers();
    const bodies = new SharedBodies(3, 4 * 1024 * 1024, timers.schedule);
    const renders = ["a", "b", "c", "d", "e"].map((key) => [key, countedRender(1000, (i) => `${key} ${i}\n`)] as const);
    const readers = renders.slice(0, 3).map(([key, body]) => bodies.reader(key, body.render, body.onMade, 1000));
    readers[0]!.close(); // "a" is kept
    const [, d] = renders[3]!;
    const dReaders = [bodies.reader("d", d.render, d.onMade, 1000), bodies.reader("d", d.render, d.onMade, 1000)];
    expect(bodies.size).toBe(3);
    expect(timers.pending.size).toBe(0); // "a" was let go for "d"
    const [, e] = renders[4]!;
    const eReaders = [bodies.reader("e", e.render, e.onMade, 1000), bodies.reader("e", e.render, e.onMade, 1000)];
    expect(eReaders.map(readAll)).toEqual([e.text, e.text]);
    expect(e.counts.renders).toBe(2); // no place: each its own
    expect(bodies.size).toBe(3);
    expect(dReaders.map(readAll)).toEqual([d.text, d.text]);
    expect(d.counts.renders).toBe(1);
  });

  test("a body that can't be joined any more is replaced for its key, and lives on for its readers", () => {
    const timers = manualTimers();
    const bodies = new SharedBodies(3, 64 * 1024, timers.schedule);
    const body = countedRender(50_000);
    const old = bodies.reader("view", body.render, body.onMade, 1000);
    let read = "";
    while (read.length < 200_000) read += new TextDecoder().decode(old.next().bytes); // past the window
    const late = bodies.reader("view", body.render, body.onMade, 1000);
    expect(bodies.size).toBe(2);
    expect(read + readAll(old)).toBe(body.text);
    old.close();
    expect(bodies.size).toBe(1); // the old one could not be joined: let go at once
    expect(readAll(late)).toBe(body.text);
    expect(body.counts.renders).toBe(2);
    late.close();
    expect([bodies.size, timers.pending.size]).toEqual([0, 0]); // past the window too: not kept
  });
});
