/**
 * What Scala Kestrel's journal records mean for the queue being rebuilt.
 *
 * Kestrel addresses items by position (REMOVE and REMOVE_TENTATIVE take the head) and open
 * transactions by xid: REMOVE_TENTATIVE gives the head the xid it carries (from ADD_XID) or the
 * next value of the xid counter; UNREMOVE returns it to the head, CONFIRM_REMOVE drops it;
 * SAVE_XID and STATE_DUMP set the counter. After a STATE_DUMP the rest of the file restates open
 * transactions already known, so it is not applied (as Kestrel does). Items get ids in file order
 * and flags 0 (Kestrel's journal has no flags).
 */
import type { LegacyRecord } from "./legacy_record.ts";
import type { ReplayState } from "./replay_state.ts";

export class KestrelReplayer {
  private xidCounter = 0;
  private nextId = 1;
  private readonly xidOfItem = new Map<number, number>();
  private readonly itemOfXid = new Map<number, number>();
  private ended = false;

  constructor(private readonly state: ReplayState) {}

  apply(record: LegacyRecord): void {
    if (this.ended) return;
    switch (record.op) {
      case "ADD":
      case "ADDX":
      case "ADD_XID": {
        const id = this.nextId++;
        this.state.add({ id, flags: 0, ...record.item });
        if (record.op === "ADD_XID" && record.xid !== 0) this.xidOfItem.set(id, record.xid);
        return;
      }
      case "REMOVE": {
        const head = this.state.head();
        if (head !== undefined) this.state.remove(head.id);
        return;
      }
      case "REMOVE_TENTATIVE":
        return this.openHead();
      case "SAVE_XID":
        this.xidCounter = record.xid;
        return;
      case "UNREMOVE":
      case "CONFIRM_REMOVE":
        return this.settle(record.xid, record.op === "CONFIRM_REMOVE");
      case "STATE_DUMP":
        this.xidCounter = record.xid;
        this.ended = true;
        return;
    }
  }

  private openHead(): void {
    const head = this.state.head();
    if (head === undefined) return;
    let xid = this.xidOfItem.get(head.id);
    if (xid === undefined) {
      do this.xidCounter++;
      while (this.itemOfXid.has(this.xidCounter));
      xid = this.xidCounter;
    }
    this.itemOfXid.set(xid, head.id);
    this.state.markOpen(head.id);
  }

  private settle(xid: number, confirm: boolean): void {
    const id = this.itemOfXid.get(xid);
    if (id === undefined) return;
    this.itemOfXid.delete(xid);
    if (confirm) this.state.remove(id);
    else this.state.abort(id);
  }
}
