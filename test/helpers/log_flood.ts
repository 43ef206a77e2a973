/**
 * Test fixture: logs `argv[2]` numbered WARN lines to stderr as fast as it can, creates the file
 * `argv[3]` once all are logged (kept or dropped: the pipe may not have taken them yet), then exits.
 */
import { writeFileSync } from "node:fs";
import { log } from "../../src/log.ts";

// The server touches process.stderr (through its dependencies); Bun then makes fd 2 non-blocking.
void process.stderr;

const count = Number(process.argv[2]);
for (let i = 0; i < count; i++) log.warn(`flood line ${i} ${"x".repeat(60)}`);
writeFileSync(process.argv[3]!, "");
