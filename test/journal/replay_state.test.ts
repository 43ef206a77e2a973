import { describe, expect, test } from "bun:test";
import { ReplayState } from "../../src/journal/replay_state.ts";
import { bytes } from "../helpers/bytes.ts";

const item = (id: number) => ({ id, addTime: 0, expiry: 0, flags: 0, data: bytes(`item ${id}`) });
const ids = (state: ReplayState) => state.items().map((i) => i.id);

describe("ReplayState", () => {
  test("adds keep order; removes drop by id wherever the item is", () => {
    const state = new ReplayState();
    for (let id = 1; id <= 5; id++) state.add(item(id));
    state.remove(1);
    state.remove(3);
    state.remove(99);
    expect(ids(state)).toEqual([2, 4, 5]);
    expect(state.nextId).toBe(6);
  });

  test("aborted items return to the head, the latest abort first", () => {
    const state = new ReplayState();
    for (let id = 1; id <= 4; id++) state.add(item(id));
    state.markOpen(1);
    state.markOpen(2);
    state.abort(1);
    state.abort(2);
    expect(ids(state)).toEqual([2, 1, 3, 4]);
    expect(state.head()?.id).toBe(2);
    state.markOpen(2);
    expect(state.head()?.id).toBe(1);
    state.abort(2);
    expect(ids(state)).toEqual([2, 1, 3, 4]);
  });

  test("items still open at the end come back at the head", () => {
    const state = new ReplayState();
    for (let id = 1; id <= 3; id++) state.add(item(id));
    state.markOpen(1);
    state.markOpen(2);
    state.remove(2);
    expect(state.openCount).toBe(1);
    expect(ids(state)).toEqual([1, 3]);
  });

  test("a repeated add of a live id is ignored", () => {
    const state = new ReplayState();
    state.add(item(1));
    state.add(item(1));
    expect(ids(state)).toEqual([1]);
  });
});
