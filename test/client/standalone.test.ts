/**
 * The client stands alone: every import in src/client/ stays in the folder or is a node: builtin,
 * so it runs on Node as well as Bun and never pulls in server, queue or journal code.
 */
import { expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const DIR = join(import.meta.dir, "..", "..", "src", "client");

/** Every module specifier in `source`: static imports and exports, dynamic imports, requires. */
function specifiers(source: string): string[] {
  const patterns = [/\b(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"']+)["']/g, /\bimport\s*["']([^"']+)["']/g, /\b(?:import|require)\s*\(\s*["']([^"']+)["']\s*\)/g];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((match) => match[1]!));
}

test("the import finder sees every form of import", () => {
  const source = `import a from "x";\nimport type { B } from 'y';\nexport * from "./z.ts";\nimport "side";\nconst c = await import("dyn");\nrequire("req");\nimport {\n  d,\n} from "multi";`;
  expect(specifiers(source).sort()).toEqual(["./z.ts", "dyn", "multi", "req", "side", "x", "y"]);
});

test("src/client imports only its own files and node: builtins", () => {
  const files = readdirSync(DIR).filter((name) => name.endsWith(".ts"));
  expect(files).toContain("index.ts");
  const leaving = files.flatMap((file) =>
    specifiers(readFileSync(join(DIR, file), "utf8"))
      .filter((specifier) => !specifier.startsWith("node:") && !/^\.\/[\w.-]+\.ts$/.test(specifier))
      .map((specifier) => `${file}: ${specifier}`),
  );
  expect(leaving).toEqual([]);
});
