/**
 * Checks, while a journal is replayed, that each segment is what the segment after it says it was
 * when it was sealed (its SEGMENT record): a segment missing from the middle, or shorter than it
 * was, means records were lost, and how many is now known. The oldest segments are deleted once
 * consumed, so a journal that starts later than segment 1 is normal; a hole after its start is not.
 *
 * Pure bookkeeping: no I/O, never throws.
 */
import type { SegmentInfo } from "./record.ts";

interface Replayed {
  readonly seq: number;
  readonly bytes: number;
  readonly records: number;
  readonly pack: boolean;
}

/** Records lost between two segments, in words and in number. */
export interface ChainBreak {
  readonly description: string;
  readonly records: number;
}

export class SegmentChain {
  private previous: Replayed | null = null;
  private pack = false;

  /** Segment `seq` is about to be replayed. */
  begin(): void {
    this.pack = false;
  }

  /**
   * The SEGMENT record of segment `seq`, whose predecessor in the replay was the segment last
   * ended. Returns what is missing before it, or null if nothing is.
   */
  follow(seq: number, info: SegmentInfo, name: (seq: number) => string): ChainBreak | null {
    this.pack = info.pack;
    const previous = this.previous;
    if (info.pack || previous === null) return null;
    if (previous.seq < seq - 1) {
      const missing = previous.seq + 1 === seq - 1 ? name(seq - 1) : `${name(previous.seq + 1)} to ${name(seq - 1)}`;
      return { description: `${missing} missing (at least ${info.prevRecords} records)`, records: info.prevRecords };
    }
    if (previous.pack || previous.bytes >= info.prevBytes) return null;
    const records = Math.max(info.prevRecords - previous.records, 0);
    return {
      description: `${name(previous.seq)} is ${info.prevBytes - previous.bytes} bytes shorter than when it was sealed (${records} of its ${info.prevRecords} records missing)`,
      records,
    };
  }

  /** Segment `seq` was replayed: `bytes` long, `records` intact records. */
  end(seq: number, bytes: number, records: number): void {
    this.previous = { seq, bytes, records, pack: this.pack };
  }
}
