import { afterEach, expect, test } from "bun:test";
import { confirmReads } from "../../../src/server/commands/confirm.ts";
import { bytes, text } from "../../helpers/bytes.ts";
import { configFor } from "../../helpers/config.ts";
import { FakeSession } from "../../helpers/fake_session.ts";
import { serverContext } from "../../helpers/server_context.ts";
import { tempDir } from "../../helpers/temp_dir.ts";

let close: (() => void) | null = null;
afterEach(() => close?.());

function setUp(items: readonly string[], opened: number) {
  const { ctx, queues } = serverContext(configFor(tempDir(), "max_open_transactions = 10\n"));
  close = () => queues.close();
  for (const item of items) queues.add("q", bytes(item), 0, Date.now());
  const queue = queues.getOrCreate("q");
  const session = new FakeSession();
  for (let i = 0; i < opened; i++) session.openReads.add(queue, queue.open(Date.now())!);
  return { ctx, queue, session };
}

test("confirms the oldest count items and returns the commit of their records", () => {
  const { ctx, queue, session } = setUp(["a", "b", "c", "d"], 3);
  expect(confirmReads(session, ctx, "q", 2)).toBe(queue.commit);
  expect(queue.stats().openTransactions).toBe(1);
  session.close();
  expect([text(queue.remove(Date.now())!.data), text(queue.remove(Date.now())!.data)]).toEqual(["c", "d"]);
});

test("more than are open, 0, or a queue that doesn't exist confirm none", () => {
  const { ctx, queue, session } = setUp(["a", "b"], 2);
  expect(confirmReads(session, ctx, "q", 3)).toBeNull();
  expect(confirmReads(session, ctx, "q", 0)).toBeNull();
  expect(confirmReads(session, ctx, "nothing", 1)).toBeNull();
  expect(queue.stats().openTransactions).toBe(2);
  expect(confirmReads(session, ctx, "q", 2)).not.toBeNull();
  expect(queue.stats().openTransactions).toBe(0);
});

test("every server status allows it", () => {
  const { ctx, queue, session } = setUp(["a"], 1);
  ctx.status.change("quiescent", "test");
  expect(confirmReads(session, ctx, "q", 1)).toBe(queue.commit);
});

test('"all" confirms every item open on the queue; a count below 1 confirms none', () => {
  const { ctx, queue, session } = setUp(["a", "b", "c"], 2);
  expect(confirmReads(session, ctx, "q", -1)).toBeNull();
  expect(queue.stats().openTransactions).toBe(2);
  expect(confirmReads(session, ctx, "q", "all")).toBe(queue.commit);
  expect(queue.stats().openTransactions).toBe(0);
  expect(confirmReads(session, ctx, "q", "all")).toBeNull();
  expect(text(queue.remove(Date.now())!.data)).toBe("c");
});
