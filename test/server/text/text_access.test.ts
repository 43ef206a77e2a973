/**
 * Who may do what on the text port: authentication with an auth file (a first `put` of
 * `<user> <password>`), `admin_commands` for shutdown, flush, delete and `status <new>`, and the
 * server status refusing puts and fetches with Kestrel's messages.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestClient } from "../../helpers/client.ts";
import { ServerProcess, freePort } from "../../helpers/server.ts";
import { tempDir } from "../../helpers/temp_dir.ts";

async function ask(client: TestClient, request: string): Promise<string> {
  await client.send(`${request}\n`);
  return client.readLine();
}

describe("text port access", () => {
  test("with an auth file, nothing but quit runs before a put of <user> <password>", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "users"), "alice:s3cret\n", { mode: 0o600 });
    const server = await ServerProcess.start({ configPath: join(dir, "kestrel.toml"), config: `text_port = ${freePort()}\nauth_file = "users"\n` });

    const stranger = await server.textClient();
    expect(await ask(stranger, "get q")).toBe("-Authentication required.");
    expect(await ask(stranger, "version")).toBe("-Authentication required.");
    expect(await ask(stranger, "put q:\nnot a login\nsecond item\n")).toBe("-Authentication failed.");
    expect((await stranger.rest()).length).toBe(0); // closed after the reply

    const wrong = await server.textClient();
    expect(await ask(wrong, "put q:\nalice wrong\n")).toBe("-Authentication failed.");
    await wrong.closed;

    const alice = await server.textClient();
    expect(await ask(alice, "put any:\nalice s3cret\n")).toBe("+1");
    expect(await ask(alice, "put q:\nwork\n")).toBe("+1");
    expect(await ask(alice, "get q")).toBe(":work");
    expect(await ask(alice, "peek any")).toBe("*"); // the login stored nothing
    alice.close();

    const leaving = await server.textClient();
    await leaving.send("quit\n");
    expect((await leaving.rest()).length).toBe(0);

    const big = await server.textClient();
    await big.send(`put q:\n${"x".repeat(20_000)}\n\n`);
    expect(await big.readLine()).toBe("-Items too large; limit=16384 bytes");
    await big.closed;
    expect(await server.stop()).toBe(0);
  });

  test('admin_commands = "none": shutdown, flush, delete and status <new> are refused; status is read', async () => {
    const server = await ServerProcess.start({ config: `text_port = ${freePort()}\nadmin_commands = "none"\n` });
    const c = await server.textClient();
    expect(await ask(c, "put jobs:\na\n")).toBe("+1");
    for (const command of ["flush jobs", "delete jobs", "status readonly", "shutdown"]) {
      expect(await ask(c, command)).toBe(`-${command.split(" ")[0]} is not allowed from 127.0.0.1`);
    }
    await server.waitForLog(/refused admin command 'flush jobs' from 127\.0\.0\.1 \(text\)/);
    expect(await ask(c, "status")).toBe(":UP");
    expect(await ask(c, "reload")).toBe("-Unknown command: reload");
    expect(await ask(c, "get jobs")).toBe(":a");
    c.close();
    expect(await server.stop()).toBe(0);
  });

  test("the server status refuses puts and fetches with Kestrel's messages; shutdown stops the server", async () => {
    const server = await ServerProcess.start({ config: `text_port = ${freePort()}\n` });
    const c = await server.textClient();
    expect(await ask(c, "put s:\na\nb\n")).toBe("+2");
    expect(await ask(c, "get s")).toBe(":a");
    expect(await ask(c, "status Bogus")).toBe("-Unknown status.");
    expect(await ask(c, "status down")).toBe("-Status forbidden.");
    expect(await ask(c, "status readonly")).toBe("+0");
    await server.waitForLog(/status changed from 'up' to 'readonly' by 127\.0\.0\.1/);
    expect(await ask(c, "status")).toBe(":READONLY");
    expect(await ask(c, "put s:\nc\n")).toBe("-Server not available for operation setItem");
    expect(await ask(c, "put s:\n")).toBe("+0"); // no item: nothing to refuse
    expect(await ask(c, "get s")).toBe(":b"); // reads still served; a confirmed
    expect(await ask(c, "status quiescent")).toBe("+0");
    expect(await ask(c, "get s")).toBe("-Server not available for operation getItem");
    const m = await server.client();
    expect((await m.stats()).get("queue_s_open_transactions")).toBe("0"); // b was confirmed all the same
    m.close();
    expect(await ask(c, "peek s")).toBe("-Server not available for operation getItem");
    expect(await ask(c, "monitor s 1000")).toBe("-Server not available for operation monitorUntil");
    expect(await ask(c, "flush s")).toBe("+0");
    expect(await ask(c, "status up")).toBe("+0");
    expect(await ask(c, "get s")).toBe("*");
    expect(await ask(c, "shutdown")).toBe("+0");
    expect(await server.exited()).toBe(0);
  });
});
