import { describe, expect, test } from "bun:test";
import { LineTokens } from "../../../src/server/memcache/line_tokens.ts";

const line = (text: string) => Buffer.from(text, "latin1");

function tokensOf(tokens: LineTokens, text: string): string[] {
  const bytes = line(text);
  tokens.scan(bytes, 0, bytes.length);
  return Array.from({ length: tokens.count }, (_, i) => tokens.text(i));
}

describe("LineTokens", () => {
  test("splits on runs of spaces and tabs", () => {
    expect(tokensOf(new LineTokens(), "set  q\t0 0 5")).toEqual(["set", "q", "0", "0", "5"]);
  });

  test("a token that differs from the last one at its place in any byte is decoded anew (the last string is reused only when equal)", () => {
    const tokens = new LineTokens();
    expect(tokensOf(tokens, "get jobs/open")).toEqual(["get", "jobs/open"]);
    // Same length, one byte different, at each place in turn: never the remembered string.
    for (let at = 0; at < "jobs/open".length; at++) {
      const key = `${"jobs/open".slice(0, at)}\xff${"jobs/open".slice(at + 1)}`;
      expect(tokensOf(tokens, `get ${key}`)).toEqual(["get", key]);
      expect(tokensOf(tokens, "get jobs/open")).toEqual(["get", "jobs/open"]);
    }
    // Tokens past the remembered ones, and a line in another buffer at another offset.
    expect(tokensOf(tokens, "get a b c d e f")).toEqual(["get", "a", "b", "c", "d", "e", "f"]);
    const bytes = line("xxGET jobs/open");
    tokens.scan(bytes.subarray(2), 0, bytes.length - 2);
    expect([tokens.text(0), tokens.text(1)]).toEqual(["GET", "jobs/open"]);
  });
});
