/**
 * Writes journals the way Scala Kestrel does (opcode byte + little-endian fields), for tests of
 * legacy replay.
 */
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

  /** 0 ADD: expiry in unix seconds. */
  add(data: string, expirySeconds = 0): this {
    const body = Buffer.concat([this.int(expirySeconds), Buffer.from(data)]);
    return this.op(0, this.int(body.length), body);
  }

  /** 2 ADDX: add time and expiry in unix ms. */
  addx(data: string, addMs = 1_700_000_000_000, expiryMs = 0): this {
    const body = Buffer.concat([this.long(addMs), this.long(expiryMs), Buffer.from(data)]);
    return this.op(2, this.int(body.length), body);
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
    const body = Buffer.concat([this.long(addMs), this.long(expiryMs), Buffer.from(data)]);
    return this.op(7, this.int(xid), this.int(body.length), body);
  }

  stateDump(xid: number, count: number): this {
    return this.op(8, this.int(xid), this.int(count));
  }

  build(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.parts));
  }
}
