/**
 * `flush_all` of many queues on the memcache port, on a Connection over a RecordingSocket: each
 * queue's flush seals its journal's active segment (a directory fsync), so the queues are flushed
 * a slice per turn (commands/queue_commands.ts), another connection answered between, and the
 * reply and the next request's follow in order once every queue is empty and its journal's new
 * state written (off the event loop: the turns that takes depend on the disk, and are not counted).
 */
import { expect, test } from "bun:test";
import { Connection } from "../../../src/server/connection.ts";
import { memcache } from "../../../src/server/memcache/front_end.ts";
import { bytes } from "../../helpers/bytes.ts";
import { RecordingSocket } from "../../helpers/recording_socket.ts";
import { contextPerTest } from "../../helpers/server_context.ts";
import { nextTurn, steppedTurnClock } from "../../helpers/turn_clock.ts";

const context = contextPerTest();
// Every look at the turns' clock moves it 1 ms on: a flush costs at least that, whatever the machine.
steppedTurnClock(1);
const QUEUES = 200;

test("a flush_all of 200 queues goes over turns: another connection is answered between them, and the replies follow in order", async () => {
  const ctx = context();
  for (let i = 0; i < QUEUES; i++) ctx.queues.add(`q${i}`, bytes(`item-${i}`), 0, Date.now());
  const flushed = () => Array.from({ length: QUEUES }, (_, i) => ctx.queues.get(`q${i}`)!.stats().items).filter((items) => items === 0).length;
  const socket = new RecordingSocket();
  new Connection(socket, ctx, memcache, 0, 1 << 20).onData(bytes("flush_all\r\nversion\r\n"));
  expect(flushed()).toBeLessThan(QUEUES);
  let answeredMidway = 0;
  for (let turns = 0; !socket.output.endsWith("VERSION test\r\n"); turns++) {
    // The round is bounded in turns; the wait after it is for the journals' fsyncs (bounded by the test's timeout).
    if (flushed() < QUEUES) expect(turns).toBeLessThan(10_000);
    const ping = new RecordingSocket();
    new Connection(ping, ctx, memcache, 0, 1 << 20).onData(bytes("version\r\n"));
    expect(ping.output).toBe("VERSION test\r\n");
    if (flushed() < QUEUES) answeredMidway++;
    await nextTurn();
  }
  expect(answeredMidway).toBeGreaterThan(5);
  expect(socket.output).toBe("Flushed all queues.\r\nVERSION test\r\n");
  expect(flushed()).toBe(QUEUES);
});

test("a queue deleted while a flush_all goes on is skipped; one set to before its turn is flushed with it", async () => {
  const ctx = context();
  for (let i = 0; i < QUEUES; i++) ctx.queues.add(`q${i}`, bytes(`item-${i}`), 0, Date.now());
  const socket = new RecordingSocket();
  new Connection(socket, ctx, memcache, 0, 1 << 20).onData(bytes("flush_all\r\n"));
  ctx.queues.delete(`q${QUEUES - 2}`);
  ctx.queues.add(`q${QUEUES - 1}`, bytes("late"), 0, Date.now());
  const late = ctx.queues.get(`q${QUEUES - 1}`)!;
  for (let turns = 0; socket.output === ""; turns++) {
    // As above: the turns the round takes are bounded, not those its journals' fsyncs take.
    if (late.stats().items > 0) expect(turns).toBeLessThan(10_000);
    await nextTurn();
  }
  expect(socket.output).toBe("Flushed all queues.\r\n");
  expect(ctx.queues.get(`q${QUEUES - 1}`)!.stats().items).toBe(0);
  expect(ctx.queues.get(`q${QUEUES - 2}`)).toBeUndefined();
});
