/**
 * Builds the self-contained executable with `bun build --compile`: the Bun runtime and every
 * dependency in one file that needs neither Node nor Bun to run.
 *
 *   bun run build                                   dist/kestrel for this machine
 *   bun run build -- --target bun-linux-arm64       dist/kestrel-linux-arm64
 *   bun run build -- --outfile /tmp/kestrel         anywhere else
 *
 * Targets: bun-linux-x64, bun-linux-arm64, bun-linux-x64-musl, bun-linux-arm64-musl (and the
 * -baseline / -modern x64 variants); building for another target needs Bun to fetch that
 * target's runtime once, so it needs the network (see docs/install.md). The binary is minified,
 * carries the version from package.json, and ignores .env, bunfig.toml and package.json files
 * where it runs (its behaviour comes from its own config only).
 */
import { parseArgs } from "node:util";
import { VERSION } from "./src/version.ts";

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { target: { type: "string" }, outfile: { type: "string" } } });
const target = values.target as Bun.Build.CompileTarget | undefined;
const outfile = values.outfile ?? (target === undefined ? "dist/kestrel" : `dist/kestrel-${target.replace(/^bun-/, "")}`);

const result = await Bun.build({
  entrypoints: ["src/main.ts"],
  minify: true,
  sourcemap: "none",
  compile: {
    outfile,
    ...(target === undefined ? {} : { target }),
    autoloadDotenv: false,
    autoloadBunfig: false,
    autoloadPackageJson: false,
    autoloadTsconfig: false,
  },
});

if (!result.success) {
  for (const message of result.logs) console.error(message);
  process.exit(1);
}
console.log(`built ${outfile} (kestrel ${VERSION}${target === undefined ? "" : `, ${target}`})`);
