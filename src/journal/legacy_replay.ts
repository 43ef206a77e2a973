/**
 * What Scala Kestrel's journal records mean for the queue being rebuilt: opcodes 0-7 as Kestrel
 * 1.2 replays them, 8 (CONTINUE) and 9 (REMOVE_TENTATIVE_XID) as Kestrel 2.4 does, and the
 * transactions still open at the end put back at the head as both do (PersistentQueue.scala,
 * `replayJournal`, in each). docs/journal-format.md lists the rules with their Scala lines.
 *
 * Kestrel addresses items by position (REMOVE and the opens take the head) and open
 * transactions by xid. Each open transaction has the xid Kestrel's replay holds it under, which
 * orders them at the end (`rank`), and the xid later records name it by (`key`): the same but
 * for an item an ADD_XID carried into a rewritten journal, which its first REMOVE_TENTATIVE opens
 * under the carried xid, the one the running server knew it by (Kestrel 1.2's replay numbers it
 * afresh, so that server's later CONFIRM_REMOVE of it missed; we keep this reading on purpose).
 * Items get ids in file order and flags 0 (Kestrel's journal has no flags).
 */
import type { LegacyRecord } from "./legacy_record.ts";
import type { ReplayState } from "./replay_state.ts";

interface OpenTransaction {
  readonly id: number;
  readonly rank: number;
  readonly key: number;
}

export class KestrelReplayer {
  private xidCounter = 0;
  private nextId = 1;
  /** The xid an ADD_XID gave an item not opened since. */
  private readonly carriedXid = new Map<number, number>();
  private readonly byKey = new Map<number, OpenTransaction>();
  private readonly byRank = new Map<number, OpenTransaction>();

  constructor(private readonly state: ReplayState) {}

  apply(record: LegacyRecord): void {
    switch (record.op) {
      case "ADD":
      case "ADDX":
      case "ADD_XID":
        return this.add(record.item, record.op === "ADD_XID" ? record.xid : 0);
      case "REMOVE": {
        const head = this.state.head();
        if (head !== undefined) this.state.remove(head.id);
        return;
      }
      case "REMOVE_TENTATIVE":
        return this.openHeadAsKestrel12();
      case "REMOVE_TENTATIVE_XID":
        this.openHeadAsKestrel2(record.xid);
        this.xidCounter = record.xid;
        return;
      case "SAVE_XID":
        this.xidCounter = record.xid;
        return;
      case "UNREMOVE":
      case "CONFIRM_REMOVE":
        return this.settle(record.xid, record.op === "CONFIRM_REMOVE");
      case "CONTINUE":
        this.settle(record.xid, true);
        return this.add(record.item, 0);
    }
  }

  /**
   * The end of the journal: open transactions go back to the head, the lowest xid first, as
   * Kestrel's replay ends (each, from the highest xid down, unremoved to the head).
   */
  finish(): void {
    const open = [...this.byRank.values()].sort((a, b) => b.rank - a.rank);
    for (const transaction of open) this.state.abort(transaction.id);
    this.byKey.clear();
    this.byRank.clear();
  }

  private add(item: { addTime: number; expiry: number; data: Uint8Array }, carriedXid: number): void {
    const id = this.nextId++;
    this.state.add({ id, flags: 0, ...item });
    if (carriedXid !== 0) this.carriedXid.set(id, carriedXid);
  }

  /** 1.2: the head opens under the next free xid of the counter (an xid an ADD_XID carried names it for later records). */
  private openHeadAsKestrel12(): void {
    const head = this.state.head();
    if (head === undefined) return;
    do this.xidCounter = (this.xidCounter + 1) | 0;
    while (this.byRank.has(this.xidCounter));
    const key = this.carriedXid.get(head.id) ?? this.xidCounter;
    this.carriedXid.delete(head.id);
    this.open({ id: head.id, rank: this.xidCounter, key });
  }

  /** 2.4: the head opens under `xid`; a transaction already open under it is forgotten, its item with it. */
  private openHeadAsKestrel2(xid: number): void {
    const head = this.state.head();
    if (head === undefined) return;
    const replaced = this.byRank.get(xid);
    if (replaced !== undefined) {
      this.forget(replaced);
      this.state.remove(replaced.id);
    }
    this.carriedXid.delete(head.id);
    this.open({ id: head.id, rank: xid, key: xid });
  }

  private open(transaction: OpenTransaction): void {
    this.byKey.set(transaction.key, transaction);
    this.byRank.set(transaction.rank, transaction);
    this.state.markOpen(transaction.id);
  }

  /** Closes the transaction later records name `xid`: its item is gone (`confirm`) or back at the head. */
  private settle(xid: number, confirm: boolean): void {
    const transaction = this.byKey.get(xid);
    if (transaction === undefined) return;
    this.forget(transaction);
    if (confirm) this.state.remove(transaction.id);
    else this.state.abort(transaction.id);
  }

  private forget(transaction: OpenTransaction): void {
    if (this.byKey.get(transaction.key) === transaction) this.byKey.delete(transaction.key);
    this.byRank.delete(transaction.rank);
  }
}
