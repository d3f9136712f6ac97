// The console's browser test (make test-console): starts `paradise serve`
// on the embedded default (throwaway data directory, free loopback port),
// drives the console in Debian's headless chromium with playwright-core,
// and saves a screenshot of each page under dist/console-screenshots/.
//
// One browser session walks what an operator does: log in; create, edit,
// disable a user and reset a password; create a device type with a
// persona; watch a device go online on the dashboard when it connects over
// the hub; edit it, push it a message, issue it commands (one it
// acknowledges, one cancelled), unbind it; import devices from CSV with a
// bad row and delete one of them; read a conversation and the audit log;
// switch to Chinese. Any Content-Security-Policy violation fails it.
// Waits are on selectors, network answers and frames, never fixed sleeps.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const root = resolve(import.meta.dirname, "../..");
const bin = join(root, "bin/paradise");
const shots = join(root, "dist/console-screenshots");
const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const password = "console-e2e-password";
const rand = Math.random().toString(16).slice(2, 8);

function fail(msg) {
  console.error(`console e2e: ${msg}`);
  process.exitCode = 1;
  throw new Error(msg);
}

const freePort = () =>
  new Promise((ok) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });

const dataDir = mkdtempSync(join(tmpdir(), "paradise-console-"));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const env = { ...process.env, PARADISE_ADDR: `127.0.0.1:${port}`, PARADISE_DATA_DIR: dataDir, LOG_LEVEL: "warn",
  PARADISE_METRICS_ADDR: "127.0.0.1:0", DATABASE_URL: "", REDIS_URL: "" };
const admin = `admin_${rand}`;
const made = spawnSync(bin, ["createsuperuser", "--username", admin, "--password", password], { env, encoding: "utf8" });
if (made.status !== 0) fail(`createsuperuser: ${made.stderr}`);
const server = spawn(bin, ["serve"], { env, stdio: ["ignore", "inherit", "inherit"] });

let browser;
try {
  for (let i = 0; ; i++) {
    const ok = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 150) fail("the server did not become ready");
    await new Promise((r) => setTimeout(r, 200));
  }
  const rest = async (method, path, token, body) => {
    const res = await fetch(base + path, {
      method,
      headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Token ${token}` } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const env = await res.json();
    if (!env.success) fail(`${method} ${path}: ${res.status} ${env.message}`);
    return env.data;
  };
  // Users: alice gets disabled in the console; bob owns the device.
  const alice = await rest("POST", "/api/user/register/", null, { username: `alice_${rand}`, password });
  const bob = await rest("POST", "/api/user/register/", null, { username: `bob_${rand}`, password });
  const mac = `AA:BB:CC:${rand.slice(0, 2)}:${rand.slice(2, 4)}:${rand.slice(4, 6)}`.toUpperCase();
  await rest("POST", "/api/device/bind/", bob.token, { mac_address: mac, name: "Desk companion" });
  await rest("POST", "/api/ai/chat/", bob.token, { message: "Good morning, what is on today?" });
  const device = await rest("POST", "/api/user/mac-login/", null, { mac_address: mac });

  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "paradise-chromium-"));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: browserPath,
    headless: true,
    locale: "en-US",
    viewport: { width: 1366, height: 860 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  // Every CSP violation in any page of the context is a failure; the
  // event carries the directive and what was blocked.
  const problems = [];
  await browser.exposeFunction("__cspViolation", (v) => problems.push(`CSP violation: ${v}`));
  await browser.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__cspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} ${e.sample ?? ""}`));
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(10_000);
  page.on("console", (m) => {
    // Failed loads are reported by URL below.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(m.text());
  });
  page.on("response", (r) => {
    // The browser asks for /favicon.ico by itself; the console has none.
    if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) {
      problems.push(`${r.status()} ${r.url()}`);
    }
  });
  page.on("pageerror", (e) => problems.push(e.message));
  // Nothing may leave the service's origin (no CDN).
  page.on("request", (r) => { if (!r.url().startsWith(base) && !r.url().startsWith("data:")) problems.push(`external request ${r.url()}`); });
  // A screenshot of the whole page with animations finished and the
  // transient toasts hidden (they would cover the controls under them).
  const shot = async (name) => {
    const toasts = page.locator(".ant-message");
    if (await toasts.count()) await toasts.evaluate((el) => { el.style.visibility = "hidden"; });
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true, animations: "disabled" });
    if (await toasts.count()) await toasts.evaluate((el) => { el.style.visibility = ""; });
  };
  const t0 = Date.now();
  const step = async (name, fn) => {
    const t1 = Date.now();
    await fn();
    if (problems.length) fail(`${name}: browser errors:\n${problems.join("\n")}`);
    console.log(`  ok ${name} (${Date.now() - t1} ms)`);
  };
  const token = () => page.evaluate(() => sessionStorage.getItem("paradise.admin.token"));
  const dialog = () => page.getByRole("dialog");
  // Confirms an antd confirmation dialog and waits for it to close. The
  // click waits for the dialog's zoom-in to finish: on a loaded CI machine
  // a click that landed while it was still zooming in was lost once (the
  // dialog stayed open, its OK never pressed).
  const confirm = async () => {
    const d = page.getByRole("dialog").filter({ hasText: "Are you sure?" });
    await d.waitFor();
    await page.waitForFunction(() => !document.querySelector(".ant-modal.ant-zoom-appear, .ant-modal.ant-zoom-enter"));
    await d.getByRole("button", { name: "OK" }).click();
    await d.waitFor({ state: "hidden" });
  };
  // Saves a form dialog and waits for the write's answer and the dialog to close.
  const save = async (button, urlPart) => {
    const d = dialog();
    const answer = page.waitForResponse((r) => r.url().includes(urlPart) && r.request().method() !== "GET");
    await d.getByRole("button", { name: button }).click();
    const res = await answer;
    if (!res.ok()) fail(`${res.request().method()} ${res.url()}: ${res.status()}`);
    await d.waitFor({ state: "hidden" });
    return res.json();
  };

  await step("login", async () => {
    const first = await page.goto(`${base}/admin/`);
    const csp = first.headers()["content-security-policy"] ?? "";
    if (!/script-src 'self';/.test(csp) || !/style-src 'self' 'nonce-[^']+';/.test(csp) || /unsafe-inline/.test(csp)) fail(`CSP ${csp}`);
    // The detector works: a <style> without the nonce is reported.
    await page.evaluate(() => document.head.appendChild(document.createElement("style")).append("p{}"));
    // (the violation event and the console's error both arrive).
    const reported = () => problems.some((p) => /^CSP violation: style-src/.test(p)) && problems.some((p) => /Content Security Policy/.test(p) && !p.startsWith("CSP violation"));
    for (let i = 0; !reported(); i++) {
      if (i > 100) fail(`a nonce-less <style> element was not reported as a CSP violation: ${problems.join("; ")}`);
      await page.evaluate(() => new Promise((ok) => requestAnimationFrame(ok)));
    }
    problems.length = 0;
    await page.getByLabel("Username").fill(admin);
    await page.getByLabel("Password").fill(password);
    await shot("01-login");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByText("Live events").waitFor();
    if (page.url().includes(password) || page.url().toLowerCase().includes("token")) fail(`credentials in the URL ${page.url()}`);
  });

  const carol = `carol_${rand}`;
  await step("create, edit and reset a user", async () => {
    await page.getByRole("menuitem", { name: "Users" }).click();
    await page.getByRole("button", { name: "Create user" }).click();
    await dialog().getByLabel("Username").fill(carol);
    await dialog().getByLabel("Password").fill(password);
    await dialog().getByLabel("Nickname").fill("Carol");
    const made = await save("Save", "/api/v1/admin/users/");
    const row = page.getByRole("row").filter({ hasText: carol });
    await row.waitFor();
    await row.getByRole("button", { name: "Edit" }).click();
    await dialog().getByLabel("Nickname").fill("Caroline");
    await dialog().getByLabel("Favorability").fill("77");
    await save("Save", `/api/v1/admin/users/${made.data.id}/`);
    await row.getByRole("cell", { name: "Caroline", exact: true }).waitFor();
    await row.getByRole("cell", { name: "77", exact: true }).waitFor();
    await row.getByRole("button", { name: "Reset password" }).click();
    await dialog().getByLabel("New password").fill("a-brand-new-password");
    await shot("02-user-reset-password");
    await save("Save", `/api/v1/admin/users/${made.data.id}/password/`);
    await rest("POST", "/api/user/login/", null, { username: carol, password: "a-brand-new-password" });
  });

  await step("search and disable a user", async () => {
    await page.getByTestId("user-search").fill(`alice_${rand}`);
    await page.getByTestId("user-search").press("Enter");
    await page.waitForURL(/search=alice_/);
    await page.getByRole("cell", { name: `alice_${rand}` }).first().waitFor();
    await page.getByTestId(`toggle-alice_${rand}`).click();
    await confirm();
    await page.getByTestId(`toggle-alice_${rand}`).getByText("Enable").waitFor();
    const u = await rest("GET", `/api/v1/admin/users/${alice.user.id}/`, await token());
    if (u.is_active) fail("alice is still active");
    await page.getByTestId("user-search").fill("");
    await page.getByTestId("user-search").press("Enter");
    await page.getByRole("cell", { name: carol, exact: true }).waitFor();
    await shot("03-users");
  });

  await step("create a device type with a persona", async () => {
    await page.getByRole("menuitem", { name: "Device types" }).click();
    await page.getByTestId("create-type").click();
    await dialog().getByLabel("Name", { exact: true }).fill(`Companion ${rand}`);
    await dialog().getByLabel("Persona name").fill("Mochi");
    await dialog().getByLabel("Persona description").fill("A playful cat who loves puns.");
    await save("Save", "/api/v1/admin/device-types/");
    await page.getByRole("cell", { name: "Mochi" }).first().waitFor();
    await shot("04-device-types");
  });

  // The device connects from another tab of the same context (the hub
  // protocol, not the console); its frames come back here as they arrive.
  // The console's tab stays in front: a background tab's animations and
  // timers are throttled.
  const devFrames = [];
  let frameArrived = () => {};
  const dev = await browser.newPage();
  await dev.exposeFunction("__deviceFrame", (f) => {
    devFrames.push(f);
    frameArrived();
  });
  await page.bringToFront();
  // The first frame of the given type (and matching `match`) received
  // after `after` frames; the owner's app frames have types "app:...".
  const frame = async (type, after = 0, match = () => true) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const f = devFrames.slice(after).find((x) => x.type === type && match(x));
      if (f) return f;
      if (Date.now() > deadline) fail(`no ${type} frame`);
      await new Promise((ok) => {
        frameArrived = ok;
        setTimeout(ok, deadline - Date.now());
      });
    }
  };
  const framesSoFar = () => devFrames.length;
  await step("watch a device go online", async () => {
    await page.getByRole("menuitem", { name: "Dashboard" }).click();
    await page.getByText("live", { exact: true }).waitFor();
    await dev.goto(`${base}/healthz`);
    await page.bringToFront();
    // The device, and its owner's app (which gets command_status frames).
    await dev.evaluate(({ url, appURL }) => {
      window.sock = new WebSocket(url);
      window.sock.onmessage = (e) => window.__deviceFrame(JSON.parse(e.data));
      window.sock.onclose = (e) => window.__deviceFrame({ type: "closed", code: e.code });
      window.app = new WebSocket(appURL);
      window.app.onmessage = (e) => {
        const f = JSON.parse(e.data);
        window.__deviceFrame({ ...f, type: `app:${f.type}` });
      };
    }, { url: `ws://127.0.0.1:${port}/ws/device/token/${device.token}/`, appURL: `ws://127.0.0.1:${port}/ws/device/token/${bob.token}/` });
    await page.getByTestId("online-now").getByText(mac).waitFor();
    await page.getByTestId("events").getByText("device_online").waitFor();
    await shot("05-dashboard");
    await page.getByTestId("online-now").getByText(mac).click();
    await page.getByText("Binding history").waitFor();
    await page.getByText("Online", { exact: true }).waitFor();
  });

  await step("edit the device and push it a message", async () => {
    await page.getByRole("button", { name: "Edit" }).click();
    await dialog().getByLabel("Name").fill("Kitchen companion");
    await save("Save", "/api/v1/admin/devices/");
    await page.getByRole("cell", { name: "Kitchen companion" }).waitFor();
    const n = framesSoFar();
    await page.getByRole("button", { name: "Push a message" }).click();
    await save("Send", "/messages/");
    const f = await frame("notification", n);
    if (f.message?.title !== "Hello") fail(`pushed frame ${JSON.stringify(f)}`);
  });

  await step("issue commands, acknowledge one, cancel one", async () => {
    const issue = async (name, params) => {
      const n = framesSoFar();
      await page.getByTestId("issue-command").click();
      await dialog().getByLabel("Command").fill(name);
      await dialog().getByLabel("Parameters (JSON)").fill(JSON.stringify(params));
      const created = await save("Send", "/commands/");
      const f = await frame("command", n);
      if (f.message.command_id !== String(created.data.id) || f.message.name !== name) fail(`command frame ${JSON.stringify(f)}`);
      return created.data.id;
    };
    const commands = page.getByTestId("commands");
    const acked = await issue("play_sound", { sound: "chime" });
    const n = framesSoFar();
    await dev.evaluate((id) => window.sock.send(JSON.stringify({ type: "command_result", message: { command_id: id, ok: true, result: { played: true } } })), String(acked));
    // Recorded: the owner's app is told.
    await frame("app:command_status", n, (f) => f.message.command_id === String(acked) && f.message.status === "acknowledged");
    const cancelled = await issue("reboot", { delay: 5 });
    await page.getByTestId("pending-count").getByText("Pending: 1").waitFor();
    await shot("06-command-sent");
    await page.getByTestId(`cancel-command-${cancelled}`).click();
    await confirm();
    const rebootRow = commands.getByRole("row").filter({ hasText: "Cancelled by an administrator." });
    await rebootRow.getByText("failed").waitFor();
    await commands.getByRole("row").filter({ hasText: "play_sound" }).getByText("acknowledged").waitFor();
    if (await page.getByTestId(`cancel-command-${cancelled}`).count()) fail("the cancelled command can still be cancelled");
    await page.getByTestId("pending-count").getByText("Pending: 0").waitFor();
    await rebootRow.getByRole("button", { name: "Expand row" }).click();
    await commands.getByText("Last sent").waitFor();
    await shot("07-device-commands");
    // The status filter is in the URL.
    await page.getByTestId("command-status").click();
    await page.getByTitle("acknowledged").click();
    await page.waitForURL(/cmd_status=acknowledged/);
    await commands.getByRole("row").filter({ hasText: "reboot" }).first().waitFor({ state: "detached" });
    await page.getByTestId("command-status").click();
    await page.getByTitle("All").click();
    await commands.getByRole("row").filter({ hasText: "reboot" }).waitFor();
  });

  await step("unbind it", async () => {
    await page.getByTestId("unbind").click();
    await confirm();
    await page.getByText("Unbound", { exact: true }).first().waitFor();
    await frame("closed");
    await shot("08-device-unbound");
  });
  await dev.close();

  await step("import devices from CSV and delete one", async () => {
    await page.getByRole("menuitem", { name: "Devices" }).click();
    await page.getByRole("cell", { name: mac }).first().waitFor();
    await page.getByRole("button", { name: "Import CSV" }).click();
    const macs = [1, 2].map((i) => `AA:BB:CD:${rand.slice(0, 2)}:${rand.slice(2, 4)}:0${i}`.toUpperCase());
    await page.getByTestId("csv").fill(`mac_address,type,name\n${macs[0]},Companion ${rand},Batch #1\nnot-a-mac,,Batch #2\n${macs[1]},,Batch #3\n`);
    const answer = page.waitForResponse((r) => r.url().endsWith("/devices/import/"));
    await dialog().getByRole("button", { name: "Import" }).click();
    await answer;
    await dialog().getByText("Created: 2").waitFor();
    await dialog().getByText("Failed: 1").waitFor();
    await dialog().getByRole("row").filter({ hasText: "not-a-mac" }).getByText("error").waitFor();
    await shot("09-import-report");
    await dialog().getByRole("button", { name: "Cancel" }).click();
    await page.getByRole("cell", { name: macs[0] }).waitFor();
    await shot("10-devices");
    await page.getByRole("cell", { name: macs[1] }).getByText(macs[1]).click();
    await page.getByText("Binding history").waitFor();
    await page.getByRole("button", { name: "Delete" }).click();
    await confirm();
    await page.waitForURL(/\/admin\/devices$/);
    await page.getByRole("cell", { name: macs[0] }).waitFor();
    if (await page.getByRole("cell", { name: macs[1] }).count()) fail(`deleted device ${macs[1]} still listed`);
  });

  await step("read a conversation", async () => {
    await page.getByRole("menuitem", { name: "Conversations" }).click();
    await page.getByText("Good morning, what is on today?").first().click();
    await dialog().getByText("assistant").first().waitFor();
    await shot("11-conversation");
    await page.keyboard.press("Escape");
    await dialog().waitFor({ state: "hidden" });
  });

  await step("audit log", async () => {
    // One page holds every entry of the walk (the page size is in the URL).
    await page.goto(`${base}/admin/audit?page_size=50`);
    for (const action of ["device.unbind", "user.disable", "user.create", "user.update", "user.reset_password", "device.update",
      "device.message", "device.command.create", "device.command.cancel", "device.import", "device.delete"]) {
      await page.getByRole("cell", { name: action, exact: true }).first().waitFor();
    }
    await page.getByRole("row").filter({ hasText: "device.command.cancel" }).getByRole("button", { name: "Expand row" }).click();
    await page.getByText("Before", { exact: true }).waitFor();
    await shot("12-audit-log");
  });

  await step("switch language", async () => {
    await page.getByTestId("lang").click();
    await page.getByTitle("简体中文").click();
    await page.getByRole("menuitem", { name: "用户" }).waitFor();
    await page.getByRole("menuitem", { name: "设备", exact: true }).click();
    await page.getByRole("cell", { name: mac }).getByText(mac).click();
    await page.getByText("下发指令").waitFor();
    await page.getByText("已确认").waitFor();
    await shot("13-device-zh");
    await page.getByRole("menuitem", { name: "仪表盘" }).click();
    await page.getByText("实时事件").waitFor();
    await shot("14-dashboard-zh");
  });

  console.log(`console e2e: ok in ${((Date.now() - t0) / 1000).toFixed(1)} s, no CSP violation; screenshots in ${shots}`);
} finally {
  await browser?.close().catch(() => {});
  server.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
}
