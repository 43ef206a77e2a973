/**
 * Preloaded by `bun test` (bunfig.toml), so these hooks cover every test file: after each test,
 * wait for the journals it deleted to be retired and their files removed (their last steps would otherwise run in the next
 * test, against its faults and spies), then remove the temp directories it asked for; after the last test, kill any server process a failed
 * test left running and remove the servers' temp directories, so a red run leaves nothing behind.
 */
import { afterAll, afterEach } from "bun:test";
import { backgroundRemovals } from "../src/journal/deferred_removal.ts";
import { cleanUpServers } from "./helpers/server.ts";
import { removeTempDirs } from "./helpers/temp_dir.ts";

afterEach(async () => {
  await backgroundRemovals();
  removeTempDirs();
});
afterAll(cleanUpServers);
