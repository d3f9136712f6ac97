// The console's browser test (make test-console): starts `paradise serve`
// on the embedded default (throwaway data directory, free loopback port),
// drives the console in Debian's headless chromium with playwright-core,
// and saves a screenshot of each page under dist/console-screenshots/.
//
// One browser session walks what an operator does: log in, search and
// disable a user, create a device type with a persona, watch a device go
// online on the dashboard when it connects over the hub, unbind it, read a
// conversation, read the audit log, switch to Chinese.
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
  const page = browser.pages()[0] ?? (await browser.newPage());
  const problems = [];
  // Known and accepted: the UI library's modal scroll lock and scrollbar
  // measurement (rc-util updateCSS without the CSP nonce) insert <style>
  // elements the policy blocks; the body then scrolls behind an open
  // modal. Nothing else may be refused.
  let blockedStyles = 0;
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    if (m.text().startsWith("Applying inline style violates the following Content Security Policy directive 'style-src")) {
      blockedStyles++;
      return;
    }
    // Failed loads are reported by URL below.
    if (!m.text().startsWith("Failed to load resource")) problems.push(m.text());
  });
  page.on("response", (r) => {
    // The browser asks for /favicon.ico by itself; the console has none.
    if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) problems.push(`${r.status()} ${r.url()}`);
  });
  page.on("pageerror", (e) => problems.push(e.message));
  // Nothing may leave the service's origin (no CDN).
  page.on("request", (r) => { if (!r.url().startsWith(base) && !r.url().startsWith("data:")) problems.push(`external request ${r.url()}`); });
  const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  const step = async (name, fn) => {
    const t0 = Date.now();
    await fn();
    console.log(`  ok ${name} (${Date.now() - t0} ms)`);
  };

  let first;
  await step("login", async () => {
    first = await page.goto(`${base}/admin/`);
    const csp = first.headers()["content-security-policy"] ?? "";
    if (!/script-src 'self';/.test(csp) || !/style-src 'self' 'nonce-[^']+';/.test(csp)) fail(`CSP ${csp}`);
    await page.getByLabel("Username").fill(admin);
    await page.getByLabel("Password").fill(password);
    await shot("01-login");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByText("Live events").waitFor();
    if (page.url().includes(password) || page.url().toLowerCase().includes("token")) fail(`credentials in the URL ${page.url()}`);
  });

  await step("search and disable a user", async () => {
    await page.getByRole("menuitem", { name: "Users" }).click();
    await page.getByTestId("user-search").fill(`alice_${rand}`);
    await page.getByTestId("user-search").press("Enter");
    await page.waitForURL(/search=alice_/);
    await page.getByRole("cell", { name: `alice_${rand}` }).first().waitFor();
    await page.getByTestId(`toggle-alice_${rand}`).click();
    await page.getByRole("dialog").getByRole("button", { name: "OK" }).click();
    await page.getByTestId(`toggle-alice_${rand}`).getByText("Enable").waitFor();
    const u = await rest("GET", `/api/v1/admin/users/${alice.user.id}/`, (await page.evaluate(() => sessionStorage.getItem("paradise.admin.token"))));
    if (u.is_active) fail("alice is still active");
    await shot("02-users");
  });

  await step("create a device type with a persona", async () => {
    await page.getByRole("menuitem", { name: "Device types" }).click();
    await page.getByTestId("create-type").click();
    const dlg = page.getByRole("dialog");
    await dlg.getByLabel("Name", { exact: true }).fill(`Companion ${rand}`);
    await dlg.getByLabel("Persona name").fill("Mochi");
    await dlg.getByLabel("Persona description").fill("A playful cat who loves puns.");
    await dlg.getByRole("button", { name: "Save" }).click();
    await page.getByRole("cell", { name: "Mochi" }).first().waitFor();
    await shot("03-device-types");
  });

  await step("watch a device go online", async () => {
    await page.getByRole("menuitem", { name: "Dashboard" }).click();
    await page.getByText("live", { exact: true }).waitFor();
    // The device connects from another tab (the hub protocol, not the console).
    const dev = await browser.newPage();
    await dev.goto(`${base}/healthz`);
    await dev.evaluate(({ url }) => { window.sock = new WebSocket(url); }, { url: `ws://127.0.0.1:${port}/ws/device/token/${device.token}/` });
    await page.getByTestId("online-now").getByText(mac).waitFor();
    await page.getByTestId("events").getByText("device_online").waitFor();
    await shot("04-dashboard");
    await page.getByTestId("online-now").getByText(mac).click();
    await page.getByText("Binding history").waitFor();
    await page.getByText("Online", { exact: true }).waitFor();
    await shot("05-device-online");
    await step("unbind it", async () => {
      await page.getByTestId("unbind").click();
      await page.getByRole("dialog").getByRole("button", { name: "OK" }).click();
      await page.getByText("Unbound", { exact: true }).first().waitFor();
      await page.getByRole("dialog").waitFor({ state: "hidden" });
      await shot("06-device-unbound");
    });
    await dev.close();
  });

  await step("devices list", async () => {
    await page.getByRole("menuitem", { name: "Devices" }).click();
    await page.getByRole("cell", { name: mac }).first().waitFor();
    await shot("07-devices");
  });

  await step("read a conversation", async () => {
    await page.getByRole("menuitem", { name: "Conversations" }).click();
    await page.getByText("Good morning, what is on today?").first().click();
    await page.getByRole("dialog").getByText("assistant").first().waitFor();
    await shot("08-conversation");
    await page.keyboard.press("Escape");
  });

  await step("audit log", async () => {
    await page.getByRole("menuitem", { name: "Audit log" }).click();
    await page.getByRole("cell", { name: "device.unbind" }).first().waitFor();
    await page.getByRole("cell", { name: "user.disable" }).first().waitFor();
    await shot("09-audit-log");
  });

  await step("switch language", async () => {
    await page.getByTestId("lang").click();
    await page.getByTitle("简体中文").click();
    await page.getByRole("menuitem", { name: "用户" }).waitFor();
    await page.getByRole("menuitem", { name: "仪表盘" }).click();
    await page.getByText("实时事件").waitFor();
    await shot("10-dashboard-zh");
  });

  const csp = problems.filter((p) => /Content Security Policy|Refused to/i.test(p));
  if (problems.length) fail(`browser errors:\n${problems.join("\n")}${csp.length ? "\n(CSP)" : ""}`);
  console.log(`console e2e: ok (${blockedStyles} nonce-less library <style> elements blocked by the CSP); screenshots in ${shots}`);
} finally {
  await browser?.close().catch(() => {});
  server.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
}
