// memjs against kestrel (test/clients/run.ts). memjs speaks only the binary protocol, which
// kestrel does not: a request must fail, with an error, within a second (its own timeout is 5 s
// and retries are off, so only the server's reply can end it that soon).
import { createRequire } from "node:module";
import memjs from "memjs";
import { check, failsFast, host, port, version } from "./report.mjs";

version(createRequire(import.meta.url)("memjs/package.json").version);
const client = memjs.Client.create(`${host}:${port}`, { timeout: 5, conntimeout: 5, retries: 0, logger: { log() {} } });
await check("binary_protocol", (q) => failsFast(() => client.get(q)));
client.close();
