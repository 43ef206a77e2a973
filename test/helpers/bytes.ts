/** Small byte helpers shared by tests. */
export const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "latin1"));
export const text = (data: Uint8Array): string => Buffer.from(data).toString("latin1");
export const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

/** A deterministic pseudo-random generator (mulberry32), so failures can be replayed from a seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
