import { afterEach, expect, test } from "bun:test";
import { ACCEPT_CREDIT, Listener } from "../../src/server/listener.ts";

/**
 * A fake descriptor table: `free` descriptors can be had; each look at `count` is recorded. As in
 * the server, a connection takes its descriptor (`accept`) before `refusal` is asked about it.
 */
class Descriptors {
  readonly looks: number[] = [];
  constructor(public free: number) {}
  readonly probe = (count: number): string | null => {
    this.looks.push(count);
    return this.free >= count ? null : "EMFILE";
  };
  /** A connection accepted: it took one. */
  accept(): void {
    this.free--;
  }
}

let listeners: Listener[] = [];
afterEach(() => {
  for (const listener of listeners) listener.stop(false);
  listeners = [];
});

function listen(descriptors: Descriptors): { listener: Listener; stops: () => number } {
  let stops = 0;
  const bound = { port: 4000, hostname: "127.0.0.1", stop: () => void stops++ };
  const listener = new Listener(() => bound, 4000, { listenBackoffs: 0, accepting: 0 }, () => 0, descriptors.probe);
  listeners.push(listener);
  return { listener, stops: () => stops };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

test("with descriptors to spare, the first accept of a turn is looked at alone, then each look vouches for twice as many accepts after it, up to ACCEPT_CREDIT", () => {
  const descriptors = new Descriptors(10_000);
  const { listener } = listen(descriptors);
  for (let i = 0; i < 100; i++) {
    descriptors.accept();
    expect(listener.refusal()).toBeNull();
  }
  // Accept 1 alone; 2 for 3-4; 5 for 6-9; 10 for 11-18; 19 for 20-35; 36 for 37-68; 69 for 70-101.
  expect(descriptors.looks).toEqual([2, 2 + 2, 2 + 4, 2 + 8, 2 + 16, 2 + ACCEPT_CREDIT, 2 + ACCEPT_CREDIT]);
  expect(ACCEPT_CREDIT).toBe(32);
});

test("a turn of one accept takes one look at 2 descriptors, as before credits", () => {
  const descriptors = new Descriptors(10_000);
  const { listener } = listen(descriptors);
  descriptors.accept();
  expect(listener.refusal()).toBeNull();
  expect(descriptors.looks).toEqual([2]);
});

test("the credit ends with its turn: the first accept of the next turn is looked at alone again", async () => {
  const descriptors = new Descriptors(10_000);
  const { listener } = listen(descriptors);
  for (let i = 0; i < 3; i++) {
    descriptors.accept();
    expect(listener.refusal()).toBeNull();
  }
  expect(descriptors.looks).toEqual([2, 4]);
  await nextTurn();
  descriptors.accept();
  expect(listener.refusal()).toBeNull();
  expect(descriptors.looks).toEqual([2, 4, 2]);
});

test("near the limit the one that takes one of the last two descriptors is refused and the port closed", () => {
  const descriptors = new Descriptors(ACCEPT_CREDIT);
  const { listener, stops } = listen(descriptors);
  let accepted = 0;
  for (;;) {
    descriptors.accept();
    const refusal = listener.refusal();
    if (refusal !== null) {
      expect(refusal).toBe("out of file descriptors (EMFILE)");
      break;
    }
    accepted++;
  }
  // Accepted while 2 were left after them: ACCEPT_CREDIT - 2 of them.
  expect(accepted).toBe(ACCEPT_CREDIT - 2);
  expect(descriptors.free).toBe(1);
  expect(stops()).toBe(1);
});

test("a credit never lets an accept leave fewer than two descriptors free; once a look with credit finds too few, each accept of the turn is looked at alone", () => {
  const descriptors = new Descriptors(40);
  const { listener, stops } = listen(descriptors);
  for (;;) {
    descriptors.accept();
    if (listener.refusal() !== null) break;
    expect(descriptors.free).toBeGreaterThanOrEqual(2);
  }
  expect(stops()).toBe(1);
  // 1 alone, 2 for 3-4, 5 for 6-9, 10 for 11-18, 19 for 20-35 (21 free after it: 2 + 16 found);
  // after 36, 4 free: 2 + 32 are not, and from there each accept is looked at alone, to the
  // refusal of 39 (1 left after it).
  expect(descriptors.looks).toEqual([2, 4, 6, 10, 18, 34, 2, 2, 2, 2]);
});
