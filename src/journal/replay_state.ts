/**
 * The queue a journal describes, rebuilt record by record during replay.
 *
 * Every operation is O(1) (amortised): `main` holds never-opened items in add order; `front`
 * holds items an abort returned to the head, as a stack whose top is the head (stale entries are
 * skipped lazily, `frontItems` says which are live); `open` holds items handed out and not yet
 * confirmed. The live queue is the open items first (they come back at the head at start-up),
 * then the front stack from the top, then `main`.
 */
import type { Item } from "./item.ts";

export class ReplayState {
  private readonly main = new Map<number, Item>();
  private readonly frontStack: number[] = [];
  private readonly frontItems = new Map<number, Item>();
  private readonly open = new Map<number, Item>();
  private maxId = 0;

  /** Appends an item; a repeated id (possible only after damage) is ignored. */
  add(item: Item): void {
    if (item.id > this.maxId) this.maxId = item.id;
    if (this.main.has(item.id) || this.frontItems.has(item.id) || this.open.has(item.id)) return;
    this.main.set(item.id, item);
  }

  /** Drops an item wherever it is; unknown ids are ignored. */
  remove(id: number): void {
    if (this.take(id) === undefined) this.open.delete(id);
  }

  markOpen(id: number): void {
    const item = this.take(id);
    if (item !== undefined) this.open.set(id, item);
  }

  abort(id: number): void {
    const item = this.open.get(id);
    if (item === undefined) return;
    this.open.delete(id);
    this.frontItems.set(id, item);
    this.frontStack.push(id);
  }

  /** The item at the head of the queue (legacy journals address items by position). */
  head(): Item | undefined {
    const stack = this.frontStack;
    while (stack.length > 0) {
      const item = this.frontItems.get(stack[stack.length - 1]!);
      if (item !== undefined) return item;
      stack.pop();
    }
    return this.main.values().next().value;
  }

  get nextId(): number {
    return this.maxId + 1;
  }

  get openCount(): number {
    return this.open.size;
  }

  /** The live queue in order, open items returned to the head. */
  items(): Item[] {
    const result = [...this.open.values()];
    const emitted = new Set<number>();
    for (let i = this.frontStack.length - 1; i >= 0; i--) {
      const id = this.frontStack[i]!;
      const item = this.frontItems.get(id);
      if (item !== undefined && !emitted.has(id)) {
        emitted.add(id);
        result.push(item);
      }
    }
    for (const item of this.main.values()) result.push(item);
    return result;
  }

  private take(id: number): Item | undefined {
    const item = this.main.get(id) ?? this.frontItems.get(id);
    if (item !== undefined) {
      this.main.delete(id);
      this.frontItems.delete(id);
    }
    return item;
  }
}
