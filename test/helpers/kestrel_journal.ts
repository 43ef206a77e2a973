/**
 * Writes journal files byte for byte as Scala Kestrel's writers do, for tests of the import.
 * Every field is little-endian (each Journal.scala and QItem.scala sets ByteOrder.LITTLE_ENDIAN);
 * where each layout comes from (1.2: mlagutko/kestrel; 1.3.0 and 2.4.1: twitter-archive/kestrel):
 *
 *   0 ADD                   i32 size, i32 expiry s, data: Starling's and Kestrel before 1.0 (read
 *                           by all: QItem.unpackOldAdd); no release of 1.2 or later writes it
 *   1 REMOVE                the opcode alone (1.2 Journal.remove; 2.4 Journal.scala:231-232)
 *   2 ADDX                  i32 size (data + 16), i64 add ms, i64 expiry ms (0 = none), data
 *                           (1.2 Journal.add: write(CMD_ADDX, size) then QItem.pack; 1.3
 *                           QItem.pack(CMD_ADDX, false); 2.4 QItem.scala:27-41)
 *   3 REMOVE_TENTATIVE      the opcode alone (1.x Journal.removeTentative)
 *   4 SAVE_XID              i32 xid (1.x Journal.saveXid, written by roll)
 *   5 UNREMOVE, 6 CONFIRM_REMOVE   i32 xid (every version's Journal.write(opcode, xid))
 *   7 ADD_XID               i32 xid, then ADDX's block (1.2 Journal.addWithXid; 1.3
 *                           addWithXidAndCommand, both written by roll for open items)
 *   8 CONTINUE              i32 xid, then ADDX's block (1.3 Journal.continue; 2.4
 *                           Journal.scala:224-229 with QItem.pack(opcode, xid), xid never 0)
 *   9 REMOVE_TENTATIVE_XID  i32 xid (2.4 Journal.scala:236-238, on every open; also after each
 *                           open item a rewrite or pack dumps, Journal.scala:158-174)
 *
 * `writeKestrelFiles` puts a set of such files in a directory under Kestrel's names.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export class KestrelJournalBuilder {
  private parts: Buffer[] = [];

  private int(value: number): Buffer {
    const b = Buffer.alloc(4);
    b.writeInt32LE(value);
    return b;
  }

  private long(value: number): Buffer {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(value));
    return b;
  }

  private op(code: number, ...rest: Buffer[]): this {
    this.parts.push(Buffer.from([code]), ...rest);
    return this;
  }

  /** The size-prefixed block of ADDX, ADD_XID and CONTINUE. */
  private itemBlock(data: string, addMs: number, expiryMs: number): Buffer[] {
    const body = Buffer.concat([this.long(addMs), this.long(expiryMs), Buffer.from(data)]);
    return [this.int(body.length), body];
  }

  /** 0 ADD: expiry in unix seconds. */
  add(data: string, expirySeconds = 0): this {
    const body = Buffer.concat([this.int(expirySeconds), Buffer.from(data)]);
    return this.op(0, this.int(body.length), body);
  }

  /** 2 ADDX: add time and expiry in unix ms. */
  addx(data: string, addMs = 1_700_000_000_000, expiryMs = 0): this {
    return this.op(2, ...this.itemBlock(data, addMs, expiryMs));
  }

  remove(): this {
    return this.op(1);
  }

  removeTentative(): this {
    return this.op(3);
  }

  saveXid(xid: number): this {
    return this.op(4, this.int(xid));
  }

  unremove(xid: number): this {
    return this.op(5, this.int(xid));
  }

  confirmRemove(xid: number): this {
    return this.op(6, this.int(xid));
  }

  /** 7 ADD_XID: an item that carries its transaction id (written for open items). */
  addXid(xid: number, data: string, addMs = 1_700_000_000_000, expiryMs = 0): this {
    return this.op(7, this.int(xid), ...this.itemBlock(data, addMs, expiryMs));
  }

  /** 8 CONTINUE (1.3 and later): closes open transaction `xid` and appends an item. */
  continueXid(xid: number, data: string, addMs = 1_700_000_000_000, expiryMs = 0): this {
    return this.op(8, this.int(xid), ...this.itemBlock(data, addMs, expiryMs));
  }

  /** 9 REMOVE_TENTATIVE_XID (2.1 and later): opens the head under `xid`. */
  removeTentativeXid(xid: number): this {
    return this.op(9, this.int(xid));
  }

  build(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.parts));
  }
}

/** Writes each file of `files` (name: contents) into `dir`. */
export function writeKestrelFiles(dir: string, files: Readonly<Record<string, Uint8Array>>): void {
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
}
