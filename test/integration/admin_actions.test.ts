/**
 * The admin HTTP actions on real servers: flushing and deleting a queue, and who may do them and
 * PUT /status: the admin token (admin_token) when one is set, today's rules (admin_commands, the
 * auth file) when not, the same-origin check always. PUT /status without a token is covered in
 * server_status.test.ts.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const TOKEN = "3f9c2a7d81e64b05a9d3c6e2f1b08475";

const servers: ServerProcess[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    await server.kill9();
    server.removeData();
  }
});

async function start(config: string, configPath?: string): Promise<{ server: ServerProcess; admin: string }> {
  const server = await ServerProcess.start({ config: `admin_port = 0\n${config}`, configPath });
  servers.push(server);
  return { server, admin: `http://${await server.adminAddress()}` };
}

/** Sends `method path` to the admin port; returns the status and the body. */
async function send(admin: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<[number, string]> {
  const response = await fetch(`${admin}${path}`, { method, headers, body });
  return [response.status, await response.text()];
}

async function items(server: ServerProcess, queue: string): Promise<string | undefined> {
  const c = await server.client();
  const stats = await c.stats();
  c.close();
  return stats.get(`queue_${queue}_items`);
}

describe("with no admin_token: today's rules", () => {
  test("DELETE /queues/<name>/items flushes it and DELETE /queues/<name> deletes it, from loopback, logged", async () => {
    const { server, admin } = await start("");
    const c = await server.client();
    for (const item of ["a", "b", "c"]) await c.set("jobs", item);
    await c.set("jobs+audit", "x");
    const mark = server.output.length;
    expect(await send(admin, "DELETE", "/queues/jobs/items")).toEqual([200, "flushed queue 'jobs'\n"]);
    expect(await items(server, "jobs")).toBe("0");
    await server.waitForLog(/INFO  admin command 'DELETE \/queues\/jobs\/items' from 127\.0\.0\.1 \(admin HTTP\)\n/, mark);
    // A fanout child's name is percent-encoded in the path (`+` is %2B).
    expect(await send(admin, "DELETE", "/queues/jobs%2Baudit")).toEqual([200, "deleted queue 'jobs+audit'\n"]);
    expect(await items(server, "jobs+audit")).toBeUndefined();
    expect(await items(server, "jobs")).toBe("0");
    c.close();
  });

  test("an unknown queue is a 404, a bad name a 400; neither makes a queue", async () => {
    const { server, admin } = await start("");
    expect(await send(admin, "DELETE", "/queues/nope/items")).toEqual([404, "no queue 'nope'\n"]);
    expect(await send(admin, "DELETE", "/queues/nope")).toEqual([404, "no queue 'nope'\n"]);
    expect(await send(admin, "DELETE", "/queues/..%2Fetc")).toEqual([400, 'bad queue name "../etc"\n']);
    expect(await send(admin, "DELETE", "/queues/%E0%A4%A")).toEqual([400, "bad percent-encoding in /queues/%E0%A4%A\n"]);
    const c = await server.client();
    expect((await c.stats()).get("queue_creates")).toBe("0");
    c.close();
  });

  test('admin_commands = "none" refuses them with 403 and changes nothing', async () => {
    const { server, admin } = await start('admin_commands = "none"\n');
    const c = await server.client();
    await c.set("jobs", "a");
    expect(await send(admin, "DELETE", "/queues/jobs/items")).toEqual([403, 'DELETE /queues/jobs/items is not allowed from 127.0.0.1 (admin_commands = "none")\n']);
    expect(await send(admin, "DELETE", "/queues/jobs")).toEqual([403, 'DELETE /queues/jobs is not allowed from 127.0.0.1 (admin_commands = "none")\n']);
    // The path is shown as the log shows it: a newline or an escape sequence sent is not echoed raw.
    expect(await send(admin, "DELETE", "/queues/a%0Ab%1B%5B31m")).toEqual([403, 'DELETE /queues/a\\x0ab\\x1b[31m is not allowed from 127.0.0.1 (admin_commands = "none")\n']);
    expect(await items(server, "jobs")).toBe("1");
    c.close();
  });

  test("a request a browser sends from a page of another site is refused, whatever it carries", async () => {
    const { server, admin } = await start("");
    const c = await server.client();
    await c.set("jobs", "a");
    for (const origin of ["http://evil.example", "null", `${admin}.evil.example`]) {
      const [status, body] = await send(admin, "DELETE", "/queues/jobs", { origin });
      expect([status, body]).toEqual([403, "refused: the request comes from a page of another site (Origin)\n"]);
      expect((await send(admin, "PUT", "/status", { origin }, "quiescent"))[0]).toBe(403);
    }
    expect(await items(server, "jobs")).toBe("1");
    expect(await send(admin, "GET", "/status")).toEqual([200, "up\n"]);
    // The dashboard's own requests carry its origin: they pass.
    expect((await send(admin, "DELETE", "/queues/jobs/items", { origin: admin }))[0]).toBe(200);
    c.close();
  });
});

/** Sends `request` raw to the admin port, then closes the connection; resolves with what came back first (or "" once closed). */
function sendRaw(admin: string, request: string, closeAfterSending: boolean): Promise<string> {
  const { hostname, port } = new URL(admin);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(request);
      if (closeAfterSending) socket.end();
    });
    socket.once("data", (chunk) => {
      resolve(chunk.toString("latin1"));
      socket.destroy();
    });
    socket.once("close", () => resolve(""));
    socket.once("error", reject);
  });
}

describe("PUT /status bodies that can't be read", () => {
  test("a body cut short by the client or too big is no internal error: nothing logged as one, nothing changed, the server goes on", async () => {
    const { server, admin } = await start("");
    const mark = server.output.length;
    // Content-Length promises more than comes: the client gives up mid-body.
    await sendRaw(admin, "PUT /status HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nread", true);
    // Chunked, past the size a status takes.
    const tooBig = await sendRaw(admin, `PUT /status HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${"a".repeat(0x800)}\r\n0\r\n\r\n`, false);
    expect(tooBig).toMatch(/^HTTP\/1\.1 413 /);
    expect(await send(admin, "PUT", "/status", {}, "writeavoid")).toEqual([200, "writeavoid\n"]);
    await server.waitForLog(/admin command 'PUT \/status writeavoid'/, mark);
    expect(server.output.slice(mark)).not.toContain("internal error");
  });
});

describe("with an admin_token", () => {
  test("PUT /status, flush and delete need Authorization: Bearer <token> (401 otherwise); reading needs nothing", async () => {
    const { server, admin } = await start(`admin_token = "${TOKEN}"\n`);
    const c = await server.client();
    await c.set("jobs", "a");
    const actions: Array<[string, string, string | undefined]> = [
      ["PUT", "/status", "readonly"],
      ["DELETE", "/queues/jobs/items", undefined],
      ["DELETE", "/queues/jobs", undefined],
    ];
    const mark = server.output.length;
    for (const [method, path, body] of actions) {
      for (const authorization of [undefined, `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}x`, `Basic ${btoa(`admin:${TOKEN}`)}`, TOKEN, "Bearer"]) {
        const response = await fetch(`${admin}${path}`, { method, body, headers: authorization === undefined ? {} : { authorization } });
        expect([path, authorization, response.status]).toEqual([path, authorization, 401]);
        expect(response.headers.get("www-authenticate")).toBe('Bearer realm="kestrel"');
        expect(await response.text()).toBe("the admin token is required: Authorization: Bearer <admin_token>\n");
      }
    }
    await server.waitForLog(/WARN  admin token missing or wrong from 127\.0\.0\.1 \(admin HTTP\)\n/, mark);
    expect(server.output.slice(mark)).not.toContain(TOKEN.slice(0, 8));
    expect(await items(server, "jobs")).toBe("1");
    for (const path of ["/", "/stats.json", "/history.json", "/config.json", "/metrics", "/health", "/status", "/dashboard/app.js"]) {
      expect([path, (await fetch(`${admin}${path}`)).status]).toEqual([path, 200]);
    }

    const bearer = { authorization: `Bearer ${TOKEN}` };
    expect(await send(admin, "PUT", "/status", bearer, "readonly")).toEqual([200, "readonly\n"]);
    await server.waitForLog(/INFO  admin command 'PUT \/status readonly' from 127\.0\.0\.1 \(admin HTTP, token\)\n/, mark);
    expect(await send(admin, "DELETE", "/queues/jobs/items", bearer)).toEqual([200, "flushed queue 'jobs'\n"]);
    expect(await send(admin, "DELETE", "/queues/jobs", bearer)).toEqual([200, "deleted queue 'jobs'\n"]);
    expect(await items(server, "jobs")).toBeUndefined();
    c.close();
  });

  test("admin_commands still applies to the address: the right token from a refused address is a 403", async () => {
    const { admin } = await start(`admin_token = "${TOKEN}"\nadmin_commands = "none"\n`);
    expect(await send(admin, "PUT", "/status", { authorization: `Bearer ${TOKEN}` }, "readonly")).toEqual([
      403,
      'PUT /status is not allowed from 127.0.0.1 (admin_commands = "none")\n',
    ]);
  });

  test("with an auth file too, the token is what the admin port asks for (HTTP Basic is not)", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "users"), "alice:s3cret\n", { mode: 0o600 });
    const { admin } = await start(`auth_file = "users"\nadmin_token = "${TOKEN}"\n`, join(dir, "kestrel.toml"));
    expect((await send(admin, "PUT", "/status", { authorization: `Basic ${btoa("alice:s3cret")}` }, "readonly"))[0]).toBe(401);
    expect(await send(admin, "PUT", "/status", { authorization: `Bearer ${TOKEN}` }, "readonly")).toEqual([200, "readonly\n"]);
  });

  test("a reload applies a new token at once: the old one is refused", async () => {
    const dir = tempDir();
    const configPath = join(dir, "kestrel.toml");
    const { server, admin } = await start(`admin_token = "${TOKEN}"\n`, configPath);
    const renewed = TOKEN.split("").reverse().join("");
    writeFileSync(configPath, `admin_port = 0\nadmin_token = "${renewed}"\n`);
    const c = await server.client();
    expect(await c.call("reload")).toBe("Reloaded config.");
    c.close();
    expect((await send(admin, "PUT", "/status", { authorization: `Bearer ${TOKEN}` }, "readonly"))[0]).toBe(401);
    expect(await send(admin, "PUT", "/status", { authorization: `Bearer ${renewed}` }, "readonly")).toEqual([200, "readonly\n"]);
  });
});
