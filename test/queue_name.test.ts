import { describe, expect, test } from "bun:test";
import { fanoutParent, isValidQueueName, queueFileName, queueNameOfFile } from "../src/queue_name.ts";

describe("queue names", () => {
  test("Kestrel 2's rule: printable, no whitespace, none of . / ~", () => {
    for (const name of ["jobs", "a:b", "a$b", "a%b", "a+b", "a+b+c", "a+", "+b", "A!#&'()*,;<=>?@[]^`{|}", "-", "a\\b", '"q"']) {
      expect(isValidQueueName(name)).toBe(true);
    }
    for (const name of ["", "a.b", ".x", "a/b", "~x", "a~", "a b", "a\tb", "a\0b", "a\x7fb", "é", "a\r\nb"]) {
      expect(isValidQueueName(name)).toBe(false);
    }
  });

  test("a name is valid while its file name fits in 200 bytes", () => {
    expect(isValidQueueName("a".repeat(200))).toBe(true);
    expect(isValidQueueName("a".repeat(201))).toBe(false);
    expect(isValidQueueName(":".repeat(66))).toBe(true);
    expect(isValidQueueName(":".repeat(67))).toBe(false);
  });

  test("the parent of a fanout child is what comes before its first +", () => {
    expect(fanoutParent("jobs+audit")).toBe("jobs");
    expect(fanoutParent("jobs+a+b")).toBe("jobs");
    expect(fanoutParent("jobs+")).toBe("jobs");
    expect(fanoutParent("+jobs")).toBeNull();
    expect(fanoutParent("jobs")).toBeNull();
  });
});

describe("file names", () => {
  test("names of the older form keep the file names they always had", () => {
    for (const name of ["jobs", "Jobs_2-b", "jobs+audit", "quarantine", "a".repeat(200)]) expect(queueFileName(name)).toBe(name);
  });

  test("every other character is escaped as %XX, % itself included", () => {
    expect(queueFileName("a:b")).toBe("a%3Ab");
    expect(queueFileName("a$b")).toBe("a%24b");
    expect(queueFileName("a%b")).toBe("a%25b");
    expect(queueFileName("a%25b")).toBe("a%2525b");
    expect(queueFileName("a\\b*?<>|\"")).toBe("a%5Cb%2A%3F%3C%3E%7C%22");
  });

  test("a reserved name (in any case) gets its first letter escaped", () => {
    expect(queueFileName("imported")).toBe("%69mported");
    expect(queueFileName("Imported")).toBe("%49mported");
    expect(queueFileName("imported+x")).toBe("imported+x");
    expect(queueFileName("imported2")).toBe("imported2");
  });

  test("file names map back to their names, one to one", () => {
    const names = ["jobs", "a:b", "a$b", "a%b", "a%25b", "imported", "IMPORTED", "x+y:z", "!", "%", "+"];
    const files = names.map(queueFileName);
    expect(new Set(files).size).toBe(names.length);
    expect(files.map(queueNameOfFile)).toEqual(names);
    for (const file of files) expect(file).toMatch(/^[A-Za-z0-9_+%-]+$/);
  });

  test("a file name that is not the very one a name maps to is no queue's", () => {
    for (const file of ["imported", "a%3ab", "a%41", "a%2", "a%", "%2E", "%7E", "a%2Fb", "%20", "a.b", ".kestrel", "a:b", "", "a".repeat(201)]) {
      expect(queueNameOfFile(file)).toBeNull();
    }
  });
});
