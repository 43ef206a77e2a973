/**
 * The ADDs among records a writer holds that never reached its file (kept for a retry after a
 * failed write, the file deleted while closed or found cut, or appended since), each with the
 * offset it is to take in the file: a rebuild copies the items waiting on disk among them, as it
 * copies those in the file up to its intact bytes.
 *
 * Invariants: the records are decoded as replay reads them (a record that does not decode ends
 * the list: nothing after it is guessed at); item bytes are copied, so the writer may release its
 * arenas once this returns.
 */
import { viewOf } from "./binary.ts";
import type { Item } from "./item.ts";
import { OP_ADD, decodeRecordAt } from "./record.ts";

/** An ADD not yet in the file: its item and the offset its record is to take there. */
export interface PendingAdd {
  readonly offset: number;
  readonly item: Item;
}

/** The ADDs among `chunks` (records, in order, the first to go at `from` in the file). Never throws. */
export function pendingAdds(chunks: readonly Uint8Array[], from: number): PendingAdd[] {
  const bytes = joined(chunks);
  const view = viewOf(bytes);
  const adds: PendingAdd[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const decoded = decodeRecordAt(bytes, view, offset);
    if (decoded === null) break;
    if (decoded.record.op === OP_ADD) {
      const item = decoded.record.item;
      adds.push({ offset: from + offset, item: { ...item, data: item.data.slice() } });
    }
    offset = decoded.end;
  }
  return adds;
}

function joined(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}
