/**
 * Preloaded by `bun test` (bunfig.toml): after the last test, kill any server process a failed
 * test left running, so a red run never leaves servers behind.
 */
import { afterAll } from "bun:test";
import { killAllServers } from "./helpers/server.ts";

afterAll(killAllServers);
