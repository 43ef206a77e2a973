/**
 * Preloaded by `bun test` (bunfig.toml), so these hooks cover every test file: after each test,
 * remove the temp directories it asked for; after the last test, kill any server process a failed
 * test left running and remove the servers' temp directories, so a red run leaves nothing behind.
 */
import { afterAll, afterEach } from "bun:test";
import { cleanUpServers } from "./helpers/server.ts";
import { removeTempDirs } from "./helpers/temp_dir.ts";

afterEach(removeTempDirs);
afterAll(cleanUpServers);
