/**
 * Builds the self-contained executable `dist/kestrel` for this machine with `bun build --compile`.
 *
 *   bun run build
 *
 * The binary embeds the Bun runtime and every dependency; it needs neither Node nor Bun to run.
 * It ignores .env, bunfig.toml and package.json files where it runs (a server's behaviour must
 * come from its own config only).
 */
import { VERSION } from "./src/version.ts";

const result = await Bun.build({
  entrypoints: ["src/main.ts"],
  minify: true,
  sourcemap: "none",
  compile: {
    outfile: "dist/kestrel",
    autoloadDotenv: false,
    autoloadBunfig: false,
  },
});

if (!result.success) {
  for (const message of result.logs) console.error(message);
  process.exit(1);
}
console.log(`built dist/kestrel ${VERSION}`);
