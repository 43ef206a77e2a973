/**
 * Queues (or anything named) kept in the order reports list them, by name (`byName`), as they come
 * and go, so a report never sorts: sorting 100,000 names took 120 ms, one turn; putting one in its
 * place takes a binary search and a move of the array's tail (about 10 us at 100,000).
 *
 * `list()` hands out the array itself, and a later `add` or `remove` copies it before changing it
 * (about 0.2 ms at 100,000), so a report going through a list over many turns sees the queues as
 * they were when it began, however many reports share it.
 *
 * Invariants: the list holds each element added and not removed, once, in `byName` order
 * (elements of one name in the order they were added); a list handed out never changes.
 */
import { byName } from "../queue_name.ts";

export class NameOrder<T extends { readonly name: string }> {
  private elements: T[] = [];
  /** `elements` was handed out by `list()`: copied before it is changed. */
  private shared = false;

  /** Every element, by name: an array no later `add` or `remove` changes. */
  list(): readonly T[] {
    this.shared = true;
    return this.elements;
  }

  /** Puts `element` in its place (after any of the same name): at the end, with no search, when its name sorts last. */
  add(element: T): void {
    const elements = this.own();
    const last = elements[elements.length - 1];
    if (last === undefined || byName(last, element) <= 0) return void elements.push(element);
    elements.splice(this.after(element.name), 0, element);
  }

  /** Takes `element` out; does nothing if it is not there. */
  remove(element: T): void {
    for (let i = this.after(element.name) - 1; i >= 0 && this.elements[i]!.name === element.name; i--) {
      if (this.elements[i] !== element) continue;
      this.own().splice(i, 1);
      return;
    }
  }

  /** Takes every element out (lists handed out keep theirs). */
  clear(): void {
    this.elements = [];
    this.shared = false;
  }

  /** The index of the first element whose name sorts after `name`. */
  private after(name: string): number {
    let low = 0;
    let high = this.elements.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.elements[middle]!.name <= name) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private own(): T[] {
    if (this.shared) this.elements = [...this.elements];
    this.shared = false;
    return this.elements;
  }
}
