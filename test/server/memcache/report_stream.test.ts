import { expect, test } from "bun:test";
import { streamInSlices, type ReportText } from "../../../src/server/memcache/report_stream.ts";
import { turnDeadline } from "../../../src/server/turn_scheduler.ts";
import { FakeSession } from "../../helpers/fake_session.ts";

const turn = () => new Promise((resolve) => setImmediate(resolve));

/** A report of `steps` lines of 1 KiB (`<step number>` then dots), then END; counts the steps run. */
function kibLines(steps: number) {
  const state = { run: 0 };
  function* report(text: ReportText): Generator<void> {
    for (let i = 0; i < steps; i++) {
      text.write(`${String(i).padStart(8, "0")}${".".repeat(1014)}\r\n`);
      state.run++;
      yield;
    }
    text.write("END\r\n");
  }
  return { state, report };
}

test("a client that does not read holds at most 1 MiB of the report and one slice; it goes on once the client reads", async () => {
  const { state, report } = kibLines(3000); // 3 MiB
  const session = new FakeSession();
  session.socket.room = 0;
  streamInSlices(session, report, 0);
  while (session.outbox.backlog < 1024 * 1024) await turn();
  const runAtStall = state.run;
  for (let i = 0; i < 200; i++) await turn();
  expect(state.run).toBe(runAtStall); // nothing is made while 1 MiB waits
  expect(session.outbox.backlog).toBeGreaterThanOrEqual(1024 * 1024);
  expect(session.outbox.backlog).toBeLessThanOrEqual(1024 * 1024 + 256 * 1024 + 1024);
  expect(session.suspended).toBe(true);

  session.socket.room = Infinity;
  session.outbox.drained();
  while (!session.socket.output.endsWith("END\r\n")) {
    session.outbox.flush();
    await turn();
  }
  const lines = session.socket.output.split("\r\n");
  expect(lines.length).toBe(3000 + 2);
  expect(lines.every((line, i) => i >= 3000 || line.startsWith(String(i).padStart(8, "0")))).toBe(true);
  expect(session.resumed).toBe(1);
});

test("a slice runs steps until its time is spent, then goes on in a later turn; a short report goes out at once, unsuspended", async () => {
  const long = kibLines(100);
  const session = new FakeSession();
  streamInSlices(session, long.report, 0); // no time: one step a turn
  expect(long.state.run).toBe(1);
  let turns = 0;
  for (; !session.socket.output.endsWith("END\r\n"); turns++) {
    session.outbox.flush();
    await turn();
  }
  expect(turns).toBeGreaterThanOrEqual(99);

  const short = kibLines(3);
  const quick = new FakeSession();
  await turn(); // a fresh turn, its budget unspent
  streamInSlices(quick, short.report);
  quick.outbox.flush();
  expect(quick.socket.output.split("\r\n").length).toBe(3 + 2);
  expect(quick.suspended).toBe(false);
  expect(quick.resumed).toBe(0);
});

test("reports share the turn's budget with every connection's requests: a spent turn runs one step, the rest in later rounds", async () => {
  await turn();
  const end = turnDeadline();
  while (performance.now() < end); // the turn's requests took its whole budget
  const reports = [kibLines(50), kibLines(50), kibLines(50)];
  const sessions = reports.map(({ report }) => {
    const session = new FakeSession();
    streamInSlices(session, report);
    return session;
  });
  expect(reports.map(({ state }) => state.run)).toEqual([1, 1, 1]);
  expect(sessions.every((session) => session.suspended)).toBe(true);
  while (sessions.some((session) => session.suspended)) await turn();
  for (const session of sessions) session.outbox.flush();
  expect(sessions.map((session) => session.socket.output.split("\r\n").length)).toEqual([52, 52, 52]);
});

test("a step that throws part-way ends the report with a SERVER_ERROR line; the session goes on", async () => {
  const session = new FakeSession();
  function* report(text: ReportText): Generator<void> {
    for (let i = 0; i < 5; i++) {
      text.write(`line ${i}\r\n`);
      yield;
    }
    throw new Error("a bug in the report");
  }
  streamInSlices(session, report, 0);
  while (session.suspended) await turn();
  session.outbox.flush();
  expect(session.socket.output).toMatch(/^line 0\r\n[^]*line 4\r\nSERVER_ERROR report failed: .*a bug in the report\r\n$/);
  expect(session.resumed).toBe(1);
});

test("a short report made over several turns goes to the outbox in one piece, at its end", async () => {
  const { report } = kibLines(5);
  const session = new FakeSession();
  streamInSlices(session, report, 0); // a step a turn
  const seenBeforeEnd: number[] = [];
  while (session.suspended) {
    seenBeforeEnd.push(session.outbox.backlog);
    await turn();
  }
  expect(seenBeforeEnd.length).toBeGreaterThan(3);
  expect(seenBeforeEnd.every((bytes) => bytes === 0)).toBe(true);
  session.outbox.flush();
  expect(session.socket.output).toMatch(/^00000000\.+\r\n[^]*00000004\.+\r\nEND\r\n$/);
});

test("a report asked for while 1 MiB of earlier replies waits for the client suspends the connection at once: the requests after it are answered after it", async () => {
  const session = new FakeSession();
  session.socket.room = 0;
  session.outbox.push(new Uint8Array(1024 * 1024)); // an earlier get's item, unread
  const { report } = kibLines(3);
  streamInSlices(session, report);
  // Not suspended, the connection would run the next request now and its reply would go first.
  expect(session.suspended).toBe(true);
  session.socket.room = Infinity;
  session.outbox.drained();
  while (session.suspended) await turn();
  session.outbox.flush();
  expect(session.socket.output.slice(1024 * 1024)).toMatch(/^00000000\.+\r\n[^]*00000002\.+\r\nEND\r\n$/);
  expect(session.resumed).toBe(1);
});
