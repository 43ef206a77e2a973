/**
 * `kestrel qdump [--verify | --repair] FILE...`: look inside journal files of either format.
 *
 * Default: one line per record (offset, opcode, id or xid, size, expiry, the start of the data)
 * and per damaged range. `--verify`: no listing; exits 1 naming the offset of the first damage.
 * `--repair`: what start-up recovery does, offline: damaged bytes to `quarantine/`, the file cut
 * or rewritten clean (Kestrel files converted). Don't repair a journal a running server is using.
 */
import { readFileSync } from "node:fs";
import { errorText } from "../errors.ts";
import { DUMP_HEADER, dumpJournal } from "../journal/dump.ts";
import { repairJournalFile } from "../journal/open_journal.ts";
import type { ScanSummary } from "../journal/scan.ts";
import { scanJournal } from "../journal/scan.ts";
import { EXIT_FAILURE, EXIT_OK } from "./usage.ts";

export type QdumpMode = "dump" | "verify" | "repair";

/** Runs qdump on each file; returns the exit code. */
export function qdump(files: readonly string[], mode: QdumpMode): number {
  let code = EXIT_OK;
  for (const file of files) {
    try {
      if (!qdumpFile(file, mode)) code = EXIT_FAILURE;
    } catch (error) {
      process.stderr.write(`kestrel: ${file}: ${errorText(error)}\n`);
      code = EXIT_FAILURE;
    }
  }
  return code;
}

/** False when the file is damaged (verify) or can't be read as a journal. */
function qdumpFile(file: string, mode: QdumpMode): boolean {
  if (mode === "repair") {
    process.stdout.write(`${file}: ${repairJournalFile(file)}\n`);
    return true;
  }
  const bytes = readFileSync(file);
  const now = Date.now();
  let summary: ScanSummary;
  if (mode === "dump") {
    process.stdout.write(`${DUMP_HEADER}\n`);
    summary = dumpJournal(bytes, now, (line) => process.stdout.write(`${line}\n`));
  } else {
    summary = scanJournal(bytes, now, {});
  }
  process.stdout.write(`${file}: ${describe(summary, bytes.length)}\n`);
  return summary.damage.length === 0 && summary.unsupportedVersion === null;
}

function describe(summary: ScanSummary, size: number): string {
  if (summary.unsupportedVersion !== null) return `journal format version ${summary.unsupportedVersion}, newer than this build reads`;
  const what = `${summary.format === "kestrel" ? "Kestrel" : summary.format} format, ${size} bytes, ${summary.records} intact records`;
  const first = summary.damage[0];
  if (first === undefined) return `${what}, no damage`;
  const bytes = summary.damage.reduce((sum, range) => sum + range.end - range.start, 0);
  return `${what}; DAMAGED at offset ${first.start} (${first.reason}); ${summary.damage.length} damaged range(s), ${bytes} bytes`;
}
