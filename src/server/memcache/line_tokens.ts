/**
 * Splits one protocol line into tokens by byte offsets, without building strings for tokens
 * nobody asks for: a `set` line costs one string (the key), not six.
 *
 * Tokens are separated by any run of spaces and tabs (memcached splits on spaces only, so a
 * tab-separated `set` there is an unknown command and its data block runs as the next command;
 * no queue name or number holds a tab, so accepting it loses nothing). One instance is reused
 * line after line (request_parser.ts keeps one for all connections); its answers are valid until
 * the next `scan`.
 */
const SPACE = 32;
const TAB = 9;

/** Tokens whose last string `text` keeps (a command, a key, a flag or two). */
const REMEMBERED = 4;

function isSeparator(byte: number): boolean {
  return byte === SPACE || byte === TAB;
}

/** Whether `bytes[start, end)` is `text` (one char per byte). */
function isText(bytes: Uint8Array, start: number, end: number, text: string): boolean {
  if (end - start !== text.length) return false;
  for (let i = 0; i < text.length; i++) {
    if (bytes[start + i] !== text.charCodeAt(i)) return false;
  }
  return true;
}

export class LineTokens {
  private bytes: Uint8Array = new Uint8Array(0);
  private starts = new Int32Array(16);
  private ends = new Int32Array(16);
  /** Tokens found by the last `scan`. */
  count = 0;
  /** The string `text` made last for each of the first REMEMBERED tokens. */
  private readonly lastTexts: string[] = new Array<string>(REMEMBERED).fill("");

  /** Tokenizes `bytes[start, end)`. */
  scan(bytes: Uint8Array, start: number, end: number): void {
    this.bytes = bytes;
    this.count = 0;
    let i = start;
    while (i < end) {
      while (i < end && isSeparator(bytes[i]!)) i++;
      if (i >= end) break;
      const from = i;
      while (i < end && !isSeparator(bytes[i]!)) i++;
      if (this.count === this.starts.length) this.grow();
      this.starts[this.count] = from;
      this.ends[this.count] = i;
      this.count++;
    }
  }

  private grow(): void {
    const starts = new Int32Array(this.starts.length * 2);
    const ends = new Int32Array(this.ends.length * 2);
    starts.set(this.starts);
    ends.set(this.ends);
    this.starts = starts;
    this.ends = ends;
  }

  /**
   * Token `index` as a string, one char per byte. A client sends the same command and key line
   * after line: a token equal to the last one made at its place (among the first REMEMBERED) is
   * answered with that string, without decoding a new one.
   */
  text(index: number): string {
    const bytes = this.bytes;
    const start = this.starts[index]!;
    const end = this.ends[index]!;
    const last = index < REMEMBERED ? this.lastTexts[index]! : null;
    if (last !== null && isText(bytes, start, end, last)) return last;
    const buffer = bytes instanceof Buffer ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const text = buffer.toString("latin1", start, end);
    if (index < REMEMBERED) this.lastTexts[index] = text;
    return text;
  }


  /** Whether token `index` is `word` (lower-case letters), ignoring ASCII case. */
  is(index: number, word: string): boolean {
    return index < this.count && this.ends[index]! - this.starts[index]! === word.length && this.startsWith(index, word);
  }

  /**
   * The byte after `word` (lower-case letters) if token `index` starts with it, ignoring ASCII
   * case, and is longer; otherwise -1.
   */
  byteAfterPrefix(index: number, word: string): number {
    if (index >= this.count || this.ends[index]! - this.starts[index]! <= word.length || !this.startsWith(index, word)) return -1;
    return this.bytes[this.starts[index]! + word.length]!;
  }

  /** Whether token `index` (which exists and is at least as long) starts with `word`, ignoring ASCII case. */
  private startsWith(index: number, word: string): boolean {
    const start = this.starts[index]!;
    for (let i = 0; i < word.length; i++) {
      if ((this.bytes[start + i]! | 0x20) !== word.charCodeAt(i)) return false;
    }
    return true;
  }

  /** Token `index` as a whole number (a leading minus if `signed`), or null if it isn't one. */
  number(index: number, signed = false): number | null {
    if (index >= this.count) return null;
    let i = this.starts[index]!;
    const end = this.ends[index]!;
    const negative = signed && this.bytes[i] === 45;
    if (negative) i++;
    if (i >= end || end - i > 15) return null;
    let value = 0;
    for (; i < end; i++) {
      const digit = this.bytes[i]! - 48;
      if (digit < 0 || digit > 9) return null;
      value = value * 10 + digit;
    }
    return negative ? -value : value;
  }

  /** All tokens from `from` on, as strings. */
  texts(from: number): string[] {
    const result: string[] = [];
    for (let i = from; i < this.count; i++) result.push(this.text(i));
    return result;
  }
}
