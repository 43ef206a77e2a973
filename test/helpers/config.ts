/** Builds configs for tests from TOML text, with queue_path in a temp directory. */
import { parseConfig, type KestrelConfig } from "../../src/config/load.ts";
import { join } from "node:path";

export function configFor(dir: string, toml = ""): KestrelConfig {
  return parseConfig(`queue_path = ${JSON.stringify(dir)}\n${toml}`, join(dir, "kestrel.toml"));
}
