/**
 * The soak test's items: every payload names its producer and sequence number and checks itself.
 *
 * A payload is `<producer>/<seq>/<size>:` followed by letters up to `size` bytes, where the letter
 * at offset i depends on i and seq. `readPayload` gives the item's id (`<producer>/<seq>`) only if
 * the header parses, the length matches and every letter is where it should be; anything else
 * (a torn, shifted or foreign item) is null, so no damaged or made-up item can pass for one that
 * was sent.
 */

const COLON = 58;
/** The longest header and the smallest payload; a payload without a colon by then is not ours. */
const MAX_HEADER = 64;

const letter = (seq: number, offset: number): number => 97 + ((offset * 7 + seq) % 26);

/**
 * The payload of item `seq` of `producer` (no `/` or `:` in it): `size` bytes, or MAX_HEADER if
 * that is more. Throws if the producer's name is too long for the header.
 */
export function makePayload(producer: string, seq: number, size: number): Uint8Array {
  const total = Math.max(size, MAX_HEADER);
  const header = `${producer}/${seq}/${total}:`;
  if (header.length > MAX_HEADER) throw new Error(`producer name too long: ${producer}`);
  const data = new Uint8Array(total);
  data.set(Buffer.from(header, "latin1"));
  for (let i = header.length; i < total; i++) data[i] = letter(seq, i);
  return data;
}

/** The id (`<producer>/<seq>`) of an intact payload, or null. Never throws. */
export function readPayload(data: Uint8Array): string | null {
  const colon = data.subarray(0, MAX_HEADER).indexOf(COLON);
  if (colon < 0) return null;
  const fields = Buffer.from(data.subarray(0, colon)).toString("latin1").split("/");
  if (fields.length !== 3) return null;
  const [producer, seqText, sizeText] = fields as [string, string, string];
  const seq = Number(seqText);
  if (producer === "" || !/^\d+$/.test(seqText) || Number(sizeText) !== data.length) return null;
  for (let i = colon + 1; i < data.length; i++) if (data[i] !== letter(seq, i)) return null;
  return `${producer}/${seq}`;
}
