import { expect, test } from "bun:test";
import { SocketWriter } from "../../bench/lib/socket_writer.ts";

/** A socket that takes at most `room` bytes per write and keeps what it took. */
function fakeSocket(room: number) {
  const taken: number[] = [];
  return {
    taken,
    room,
    write(bytes: Uint8Array): number {
      const n = Math.min(this.room, bytes.length);
      taken.push(...bytes.subarray(0, n));
      return n;
    },
  };
}

test("bytes the socket does not take are written on drain, in order, behind nothing later", () => {
  const socket = fakeSocket(3);
  const writer = new SocketWriter(socket);
  writer.write(Uint8Array.of(1, 2, 3, 4, 5));
  writer.write(Uint8Array.of(6, 7));
  expect(socket.taken).toEqual([1, 2, 3]);
  expect(writer.pending).toBe(4);
  writer.drain();
  expect(socket.taken).toEqual([1, 2, 3, 4, 5, 6]);
  socket.room = 100;
  writer.drain();
  expect(socket.taken).toEqual([1, 2, 3, 4, 5, 6, 7]);
  expect(writer.pending).toBe(0);
  writer.drain();
  expect(socket.taken).toEqual([1, 2, 3, 4, 5, 6, 7]);
});

test("a socket that takes nothing (or reports a negative count) keeps every byte for later", () => {
  const socket = { taken: [] as number[], write: (_bytes: Uint8Array) => -1 };
  const writer = new SocketWriter(socket);
  writer.write(Uint8Array.of(1, 2));
  expect(writer.pending).toBe(2);
});
