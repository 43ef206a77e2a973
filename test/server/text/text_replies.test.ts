import { describe, expect, test } from "bun:test";
import { NO_ITEM, countReply, errorReply, itemReply, stringReply, unknownCommand } from "../../../src/server/text/text_replies.ts";
import { bytes } from "../../helpers/bytes.ts";

describe("text replies", () => {
  test("are written as Kestrel's TextCodec spec expects", () => {
    expect(countReply(23)).toBe("+23\n");
    expect(errorReply("Bad karma")).toBe("-Bad karma\n");
    expect(NO_ITEM).toBe("*\n");
    expect(itemReply(bytes("hello"))).toEqual([":", bytes("hello"), "\n"]);
    expect(stringReply("UP")).toBe(":UP\n");
  });

  test("an item goes out byte for byte, as the same buffer", () => {
    const data = bytes("\x00\xff\r x");
    expect(itemReply(data)[1]).toBe(data);
  });

  test("text quoting the client stays one printable line", () => {
    expect(errorReply(unknownCommand("a\rb\x00\xe9"))).toBe("-Unknown command: a?b??\n");
    expect(stringReply("v\n2")).toBe(":v?2\n");
  });
});
