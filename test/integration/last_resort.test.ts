/**
 * An error that escapes every handler (a bug, injected by test/helpers/bug_preload.ts) ends the
 * server with one log line and exit 1: no stack trace, no source excerpt (minified, in the binary).
 */
import { expect, test } from "bun:test";
import { BUG_PRELOAD, ServerProcess } from "../helpers/server.ts";

/** What the process wrote besides its timestamped log lines and the preload's own line. */
function strayLines(output: string): string[] {
  return output.split("\n").filter((line) => line !== "" && !/^\d{4}-\d\d-\d\dT\S+ (DEBUG|INFO |WARN |ERROR) /.test(line) && line !== "test bug: armed");
}

for (const [signal, how] of [["SIGUSR1", "thrown"], ["SIGUSR2", "rejected"]] as const) {
  test(`an uncaught error (${how}): one ERROR line, exit 1`, async () => {
    const server = await ServerProcess.start({ preload: BUG_PRELOAD });
    const c = await server.client();
    expect(await c.set("q", "x")).toBe("STORED");
    const mark = server.output.length;
    server.proc.kill(signal);
    expect(await server.exited()).toBe(1);
    const after = server.output.slice(mark);
    expect(after).toMatch(new RegExp(`^\\S+ ERROR internal error, exiting: injected bug \\(${how}\\)\\n$`));
    expect(strayLines(server.output)).toEqual([]);
    const again = await server.restart({ preload: undefined });
    const d = await again.client();
    expect(await d.get("q")).toBe("x");
    d.close();
    expect(await again.stop()).toBe(0);
  });
}
