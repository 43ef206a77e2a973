/**
 * Open items moved out of emptied slabs (queue/open_items.ts, queue/slab_evacuation.ts) while
 * their replies are still waiting to be sent: a client that opens small items and doesn't read
 * gets every one intact once it reads, and the connection still closes and aborts them.
 */
import { expect, test } from "bun:test";
import { heldBytes, liveBytes, WASTE_SLACK_BYTES } from "../../src/queue/byte_homes.ts";
import { evacuationSettled, evacuationTotals } from "../../src/queue/slab_evacuation.ts";
import { Connection } from "../../src/server/connection.ts";
import { memcache } from "../../src/server/memcache/front_end.ts";
import { RecordingSocket } from "../helpers/recording_socket.ts";
import { contextPerTest } from "../helpers/server_context.ts";
import { nextTurn } from "../helpers/turn_clock.ts";

const newContext = contextPerTest();
const ROUNDS = 120;
const CHURN_ITEM = "c".repeat(100);

/** Round `n`'s item: 4 bytes, different from round to round. */
const itemOf = (n: number) => `r${String(n).padStart(3, "0")}`;

/** Feeds `request` to `connection` and waits for its socket to have `replies` lines `expected` in all. */
async function send(connection: Connection<unknown>, socket: RecordingSocket, request: string, expected: string, replies: number): Promise<void> {
  connection.onData(Buffer.from(request, "latin1"));
  while (socket.output.split(expected).length - 1 < replies) await nextTurn();
}

test("open items whose replies wait for a client that doesn't read are moved out of emptied slabs and still reach it intact", async () => {
  const ctx = newContext('journal = false\n[queues.churn]\nmax_items = 10\ndiscard_old_when_full = true\n[queues.keep]\nmax_open_transactions = 1000\n');
  const writerSocket = new RecordingSocket();
  const writer = new Connection(writerSocket, ctx, memcache, 0, 1024 * 1024);
  const readerSocket = new RecordingSocket();
  readerSocket.room = 0; // takes nothing: every reply waits in the outbox
  const reader = new Connection(readerSocket, ctx, memcache, 0, 1024 * 1024);
  const churn = `set churn 0 0 ${CHURN_ITEM.length} noreply\r\n${CHURN_ITEM}\r\n`.repeat(655);
  const before = evacuationTotals();
  for (let n = 1; n <= ROUNDS; n++) {
    // Each 4-byte item lands in a slab the 64 KiB of churn after it fill, then leave.
    await send(writer, writerSocket, `set keep 0 0 4\r\n${itemOf(n)}\r\n${churn}version\r\n`, "VERSION", n);
    reader.onData(Buffer.from("get keep/open\r\n", "latin1"));
  }
  await evacuationSettled();
  // The open items held a slab each (7.5 MiB); counted, they can only be under the bound once moved.
  expect(evacuationTotals().movedBytes).toBeGreaterThan(before.movedBytes);
  expect(ctx.queues.get("keep")!.stats(Date.now()).openTransactions).toBe(ROUNDS);
  expect(liveBytes()).toBeGreaterThanOrEqual(ROUNDS * 4);
  expect(heldBytes()).toBeLessThanOrEqual(liveBytes() * 1.5 + WASTE_SLACK_BYTES);

  readerSocket.room = Infinity;
  reader.onDrain();
  while (readerSocket.output.split("END\r\n").length - 1 < ROUNDS) await nextTurn();
  const expected = Array.from({ length: ROUNDS }, (_, i) => `VALUE keep/open 0 4\r\n${itemOf(i + 1)}\r\nEND\r\n`).join("");
  expect(readerSocket.output).toBe(expected);

  // The same item objects are still the connection's: closing it gives every one back, intact.
  reader.onClose();
  while (ctx.queues.get("keep")!.stats(Date.now()).items < ROUNDS) await nextTurn();
  readerSocket.output = "";
  const again = new Connection(readerSocket, ctx, memcache, 0, 1024 * 1024);
  await send(again, readerSocket, "get keep\r\n".repeat(ROUNDS), "END", ROUNDS);
  expect(readerSocket.output).toBe(Array.from({ length: ROUNDS }, (_, i) => `VALUE keep 0 4\r\n${itemOf(ROUNDS - i)}\r\nEND\r\n`).join(""));
  writer.onClose();
  again.onClose();
});
