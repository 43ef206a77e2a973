import { afterEach, expect, test } from "bun:test";
import { confirmReads } from "../../../src/server/commands/confirm_reads.ts";
import { bytes } from "../../helpers/bytes.ts";
import { configFor } from "../../helpers/config.ts";
import { FakeSession } from "../../helpers/fake_session.ts";
import { serverContext } from "../../helpers/server_context.ts";
import { tempDir } from "../../helpers/temp_dir.ts";

let close: (() => void) | null = null;
afterEach(() => close?.());

/** A context whose queue `q` holds `items`, and a session holding the first `open` of them open. */
function holding(items: readonly string[], open: number) {
  const { ctx, queues } = serverContext(configFor(tempDir()));
  close = () => queues.close();
  for (const item of items) queues.add("q", bytes(item), 0, Date.now());
  const queue = queues.getOrCreate("q");
  const session = new FakeSession();
  const opened = Array.from({ length: open }, () => queue.open(Date.now())!);
  for (const item of opened) session.openReads.add(queue, item);
  return { ctx, queue, session, opened };
}

test("confirms the oldest open items, all or none", () => {
  const { ctx, queue, session, opened } = holding(["1", "2", "3"], 3);
  expect(confirmReads(session, ctx, "q", 4)).toMatchObject({ count: 0 });
  expect(confirmReads(session, ctx, "q", 0)).toMatchObject({ count: 0 });
  expect(confirmReads(session, ctx, "q", -1)).toMatchObject({ count: 0 });
  expect(opened.map((item) => queue.isOpen(item))).toEqual([true, true, true]);
  expect(confirmReads(session, ctx, "q", 2)).toMatchObject({ count: 2 });
  expect(opened.map((item) => queue.isOpen(item))).toEqual([false, false, true]);
  expect(session.openReads.count(queue)).toBe(1);
  expect(queue.stats().openTransactions).toBe(1);
});

test('"all" confirms every open item; a queue that does not exist holds none', () => {
  const { ctx, queue, session } = holding(["1", "2"], 2);
  expect(confirmReads(session, ctx, "q", "all")).toMatchObject({ count: 2 });
  expect(confirmReads(session, ctx, "q", "all")).toMatchObject({ count: 0 });
  expect(queue.stats().openTransactions).toBe(0);
  expect(confirmReads(session, ctx, "nowhere", "all")).toMatchObject({ count: 0 });
  expect(ctx.queues.get("nowhere")).toBeUndefined();
});

test("the confirms are journalled: a reload of the queue does not bring them back", () => {
  const dir = tempDir();
  const first = serverContext(configFor(dir));
  first.queues.add("q", bytes("gone"), 0, Date.now());
  first.queues.add("q", bytes("kept"), 0, Date.now());
  const queue = first.queues.getOrCreate("q");
  const session = new FakeSession();
  session.openReads.add(queue, queue.open(Date.now())!);
  const confirmed = confirmReads(session, first.ctx, "q", 1);
  session.output();
  expect(confirmed).toMatchObject({ count: 1, commit: { state: "durable" } });
  first.queues.close();
  const second = serverContext(configFor(dir));
  close = () => second.queues.close();
  expect(second.queues.getOrCreate("q").stats().items).toBe(1);
});
