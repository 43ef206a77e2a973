import { afterEach, expect, test } from "bun:test";
import type { Item } from "../../../src/journal/item.ts";
import { monitorReads, type MonitorReplies } from "../../../src/server/commands/monitor_reads.ts";
import { bytes, text } from "../../helpers/bytes.ts";
import { configFor } from "../../helpers/config.ts";
import { FakeSession } from "../../helpers/fake_session.ts";
import { serverContext } from "../../helpers/server_context.ts";
import { tempDir } from "../../helpers/temp_dir.ts";

let close: (() => void) | null = null;
afterEach(() => close?.());

/** Replies written as `<item>|`, `end|` and `refused(<reason>, <status>)|`. */
const REPLIES: MonitorReplies = {
  item: (item: Item) => [`${text(item.data)}|`],
  end: ["end|"],
  refused: (failure, status) => [`refused(${failure.reason}, ${status})|`],
  onFailure: null,
};

function contextWith(items: readonly string[], toml = "") {
  const { ctx, queues } = serverContext(configFor(tempDir(), toml));
  close = () => queues.close();
  for (const item of items) queues.add("q", bytes(item), 0, Date.now());
  return { ctx, queues, session: new FakeSession() };
}

test("opens items until the connection holds max_open_transactions open, then ends", () => {
  const { ctx, queues, session } = contextWith(["a", "b"]);
  monitorReads(session, ctx, "q", 60_000, Infinity, REPLIES);
  expect(session.output()).toBe("a|end|");
  expect(session.openReads.count(queues.get("q")!)).toBe(1);
  expect(session.suspended).toBe(false);
});

test("maxItems and a deadline already passed end it sooner", () => {
  const { ctx, session } = contextWith(["a"]);
  monitorReads(session, ctx, "q", 60_000, 0, REPLIES);
  monitorReads(session, ctx, "q", 0, Infinity, REPLIES);
  monitorReads(session, ctx, "q", -5, Infinity, REPLIES);
  expect(session.output()).toBe("end|end|end|");
});

test("waits for an item, suspended, and replies it when it comes", () => {
  const { ctx, queues, session } = contextWith([]);
  monitorReads(session, ctx, "q", 60_000, Infinity, REPLIES);
  expect(session.suspended).toBe(true);
  expect(session.output()).toBe("");
  queues.add("q", bytes("late"), 0, Date.now());
  expect(session.output()).toBe("late|end|");
  expect(session.suspended).toBe(false);
});

test("a connection that leaves while it waits takes nothing", () => {
  const { ctx, queues, session } = contextWith([]);
  monitorReads(session, ctx, "q", 60_000, Infinity, REPLIES);
  session.leave();
  queues.add("q", bytes("kept"), 0, Date.now());
  expect(queues.get("q")!.stats().items).toBe(1);
});

test("refused as a whole by a status that blocks reads, with nothing opened", () => {
  const { ctx, queues, session } = contextWith(["a"], 'default_status = "quiescent"\n');
  monitorReads(session, ctx, "q", 60_000, Infinity, REPLIES);
  expect(session.output()).toBe("refused(server is quiescent: gets are refused, true)|");
  expect(queues.get("q")!.stats().items).toBe(1);
});
