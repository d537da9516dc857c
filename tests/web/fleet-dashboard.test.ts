/**
 * `qrgate fleet --web` in Debian's Chromium, over a real Mosquitto with two real gates (`qrgate run`): both show
 * online, killing one turns it red; a device silent past 3 health periods turns amber; filters and the device
 * detail work; commands need the page's own header and the centre key; beyond loopback a login is required.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import mqtt, { type MqttClient } from "mqtt";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blocking, launchChromium, runAxe } from "../support/browser.js";
import { runCli, spawnCli, type CliChild } from "../support/cli.js";
import { makeCentreKey, type CentreKeys } from "../support/fleet-gate.js";
import { healthMessage, stateMessage } from "../support/fleet-messages.js";
import { freePort, startBroker, type TestBroker } from "../support/mosquitto.js";
import { waitFor } from "../support/wait.js";

const SHOTS = fileURLToPath(new URL("../../docs/screenshots/", import.meta.url));

const CARD = "001099012345|123456789|Nguyễn Văn An|01011990|Nam|Số 1 Phố Huế, Hà Nội|15062021";

function gateConfig(dir: string, device: string, broker: TestBroker, centreKey: string): string {
  const path = join(dir, `${device}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      site: "hq",
      device,
      door: "lobby",
      scanner: { type: "stdin" },
      relay: { type: "sim", pulseMs: 500 },
      mqtt: { url: broker.url, reconnectMs: 200, keepaliveS: 5 },
      store: { path: `${device}/gate.db` },
      centre: { publicKey: centreKey },
    }),
  );
  return path;
}

const dashboardUp = (c: CliChild) => c.stdout.some((l) => l.startsWith("qrgate fleet dashboard: http://"));

describe("the fleet dashboard over two real gates", () => {
  let dir: string;
  let broker: TestBroker;
  const gates = new Map<string, CliChild>();
  let dash: CliChild;
  let url: string;
  let browser: Browser;
  let page: Page;
  let pub: MqttClient;
  let keys: CentreKeys;

  const shownKeys = () => page.evaluate<string[]>(`[...document.querySelectorAll("#rows tr:not([hidden])")].map((t) => t.dataset.key)`);
  const levelOf = (key: string) => page.getAttribute(`tr[data-key="${key}"]`, "data-level");

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "qrgate-dash-"));
    broker = await startBroker();
    keys = await makeCentreKey(join(dir, "centre"));
    for (const d of ["gate-1", "gate-2"]) {
      const g = spawnCli(["run", "--config", gateConfig(dir, d, broker, keys.jwksPath)], { cwd: dir });
      gates.set(d, g);
    }
    for (const [d, g] of gates) await waitFor(() => g.logs().some((l) => l.msg === "mqtt connected"), `${d} to reach the broker`);
    pub = mqtt.connect(broker.url, { clientId: "dash-test-publisher" });
    await new Promise<void>((r) => pub.once("connect", () => r()));
    // A third device, of another site, whose last health (retained) is 100 s old with a 30 s period: silent.
    const now = Date.now();
    await pub.publishAsync("qrgate/v1/lab/gate-9/state", stateMessage("online", now - 200_000), { retain: true, qos: 1 });
    await pub.publishAsync("qrgate/v1/lab/gate-9/health", JSON.stringify(healthMessage("lab", "gate-9", now - 100_000, { periodS: 30 })), { retain: true, qos: 1 });
    const port = await freePort();
    url = `http://127.0.0.1:${port}/`;
    dash = spawnCli(["fleet", "--url", broker.url, "--web", String(port), "--key", keys.privateKeyPath], { cwd: dir });
    await waitFor(() => dashboardUp(dash), "the dashboard to listen");
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 }, bypassCSP: true });
    await page.goto(url);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    pub?.end(true);
    for (const g of [...gates.values(), dash]) {
      if (g !== undefined && g.proc.exitCode === null && g.proc.signalCode === null) {
        g.proc.kill("SIGTERM");
        await g.exited();
      }
    }
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists both gates online, each with an icon and a word besides the colour", async () => {
    await page.waitForSelector('tr[data-key="hq/gate-1"][data-level="ok"]');
    await page.waitForSelector('tr[data-key="hq/gate-2"][data-level="ok"]');
    expect(await page.locator('tr[data-key="hq/gate-1"] .badge').innerText()).toBe("● Online");
    expect(await page.locator("#summary").innerText()).toMatch(/● 2 online · ▲ 1 silent · ✕ 0 offline/);
    expect(await page.locator("#commands-note").isVisible()).toBe(false);
  });

  it("turns a killed gate red ('✕ Offline') and keeps the other green", async () => {
    const g = gates.get("gate-2")!;
    g.proc.kill("SIGKILL");
    await g.exited();
    await page.waitForSelector('tr[data-key="hq/gate-2"][data-level="offline"]', { timeout: 20_000 });
    expect(await page.locator('tr[data-key="hq/gate-2"] .badge').innerText()).toBe("✕ Offline");
    const bg = await page.evaluate<string>(`getComputedStyle(document.querySelector('tr[data-key="hq/gate-2"] .badge')).backgroundColor`);
    expect(bg).toBe("rgb(155, 13, 13)");
    expect(await levelOf("hq/gate-1")).toBe("ok");
    await page.selectOption("#f-site", "hq");
    await page.screenshot({ path: join(SHOTS, "fleet-dashboard.png") });
    expect(blocking(await runAxe(page))).toEqual([]);
    await page.selectOption("#f-site", "");
  });

  it("turns a device amber ('▲ Silent') once its health is older than 3 of its periods", async () => {
    await page.waitForSelector('tr[data-key="lab/gate-9"][data-level="silent"]');
    expect(await page.locator('tr[data-key="lab/gate-9"] .badge').innerText()).toBe("▲ Silent");
    // A fresh health message brings it back.
    pub.publish("qrgate/v1/lab/gate-9/health", JSON.stringify(healthMessage("lab", "gate-9", Date.now(), { periodS: 30 })), { retain: true, qos: 1 });
    await page.waitForSelector('tr[data-key="lab/gate-9"][data-level="ok"]');
  });

  it("shows a degraded gate (it refuses people: a journal fault) as '⚠ Degraded' with its reason", async () => {
    const degraded = JSON.stringify({ state: "degraded", reason: "journal_unavailable", detail: "disk full", ts: new Date().toISOString(), version: "0.1.0", bootId: "b" });
    await pub.publishAsync("qrgate/v1/lab/gate-9/state", degraded, { retain: true, qos: 1 });
    await page.waitForSelector('tr[data-key="lab/gate-9"][data-level="degraded"]');
    expect(await page.locator('tr[data-key="lab/gate-9"] .badge').innerText()).toBe("⚠ Degraded");
    expect(await page.getAttribute('tr[data-key="lab/gate-9"] td:first-child', "title")).toBe("journal_unavailable");
    await pub.publishAsync("qrgate/v1/lab/gate-9/state", stateMessage("online", Date.now()), { retain: true, qos: 1 });
    await page.waitForSelector('tr[data-key="lab/gate-9"][data-level="ok"]');
  });

  it("filters by state, site and name", async () => {
    await page.selectOption("#f-state", "offline");
    expect(await shownKeys()).toEqual(["hq/gate-2"]);
    await page.selectOption("#f-state", "");
    await page.selectOption("#f-site", "lab");
    expect(await page.locator("#rows tr:not([hidden])").count()).toBe(1);
    await page.selectOption("#f-site", "");
    await page.fill("#f-text", "gate-1");
    expect(await shownKeys()).toEqual(["hq/gate-1"]);
    await page.fill("#f-text", "");
    expect(await page.locator("#rows tr:not([hidden])").count()).toBe(3);
  });

  it("opens a device's detail with an entries-per-hour chart, recent alarms and the command buttons", async () => {
    pub.publish(
      "qrgate/v1/hq/gate-1/event",
      JSON.stringify({ id: "0192f1a0-0000-7000-8000-000000000001", ts: new Date().toISOString(), site: "hq", device: "gate-1", event: "door_held", detail: "door held open 45 s" }),
      { qos: 1 },
    );
    for (const decision of ["allow", "allow", "deny"]) {
      pub.publish("qrgate/v1/hq/gate-1/entry", JSON.stringify({ ts: new Date().toISOString(), decision, reason: decision === "allow" ? "ok" : "infected" }), { qos: 1 });
    }
    await page.click('button[data-key="hq/gate-1"]');
    await page.waitForSelector("#detail:not([hidden]) #chart svg");
    const chartSays3 = `document.querySelector("#chart svg")?.getAttribute("aria-label")?.includes("3 in all") === true`;
    await page.waitForFunction(chartSays3, undefined, { timeout: 5000 }).catch(async () => {
      // The entries may have arrived after the detail was fetched: open it again.
      await page.click('button[data-key="hq/gate-1"]');
      await page.waitForFunction(chartSays3);
    });
    expect(await page.locator("#events").innerText()).toContain("door_held: door held open 45 s");
    for (const b of await page.locator("#cmd-buttons button").all()) expect(await b.isEnabled()).toBe(true);
    await page.screenshot({ path: join(SHOTS, "fleet-detail.png") });
    expect(blocking(await runAxe(page))).toEqual([]);
  });

  it("sends nothing when the admin cancels the confirmation", async () => {
    const before = gates.get("gate-1")!.logs().filter((l) => l.msg === "command executed").length;
    page.once("dialog", (d) => void d.dismiss());
    await page.click('#cmd-buttons button[data-op="lockdown"]');
    expect(await page.locator("#cmd-result").innerText()).toBe("");
    expect(gates.get("gate-1")!.logs().filter((l) => l.msg === "command executed").length).toBe(before);
  });

  it("locks the gate down when the admin confirms 'Lockdown': the gate answers, then refuses a valid card", async () => {
    const g = gates.get("gate-1")!;
    let question = "";
    page.once("dialog", (d) => {
      question = d.message();
      void d.accept();
    });
    await page.click('#cmd-buttons button[data-op="lockdown"]');
    await page.waitForFunction(`document.getElementById("cmd-result").innerText.includes("gate-1: lockdown done")`, undefined, { timeout: 15_000 });
    expect(question).toMatch(/Send 'lockdown' to hq\/gate-1\?/);
    expect(g.logs().find((l) => l.msg === "command executed" && l.op === "lockdown")).toMatchObject({ ok: true });
    g.proc.stdin!.write(CARD + "\n");
    await waitFor(() => g.logs().some((l) => l.msg === "denied" && l.reason === "lockdown"), "the locked-down gate to refuse a valid card");
    // And back: 'normal' lets the same card in again.
    page.once("dialog", (d) => void d.accept());
    await page.click('#cmd-buttons button[data-op="normal"]');
    await page.waitForFunction(`document.getElementById("cmd-result").innerText.includes("gate-1: normal done")`, undefined, { timeout: 15_000 });
  });

  it("says a killed gate did not answer a command", async () => {
    await page.click('button[data-key="hq/gate-2"]');
    await page.waitForSelector("#detail-h >> text=hq / gate-2");
    page.once("dialog", (d) => void d.accept());
    await page.click('#cmd-buttons button[data-op="sync"]');
    await page.waitForFunction(`document.getElementById("cmd-result").innerText.includes("no answer from gate-2")`, undefined, { timeout: 20_000 });
  });

  it("refuses a command that does not come from the page itself", async () => {
    const body = JSON.stringify({ site: "hq", device: "gate-1", op: "lockdown" });
    const forged = await fetch(new URL("/api/command", url), { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(forged.status).toBe(403);
    const crossSite = await fetch(new URL("/api/command", url), { method: "POST", headers: { "content-type": "application/json", "x-qrgate-dashboard": "1", origin: "http://evil.example" }, body });
    expect(crossSite.status).toBe(403);
    const badOp = await fetch(new URL("/api/command", url), { method: "POST", headers: { "content-type": "application/json", "x-qrgate-dashboard": "1" }, body: JSON.stringify({ site: "hq", device: "gate-1", op: "reload" }) });
    expect(badOp.status).toBe(400);
    expect(gates.get("gate-1")!.logs().filter((l) => l.msg === "command executed" && l.op === "reload")).toEqual([]);
  });

  it("without --key: buttons off with a note, and the server refuses commands", async () => {
    const port = await freePort();
    const plain = spawnCli(["fleet", "--url", broker.url, "--web", String(port)], { cwd: dir });
    try {
      await waitFor(() => dashboardUp(plain), "the second dashboard to listen");
      const p2 = await browser.newPage({ viewport: { width: 1440, height: 900 }, bypassCSP: true });
      await p2.goto(`http://127.0.0.1:${port}/`);
      await p2.waitForSelector('tr[data-key="hq/gate-1"]');
      expect(await p2.locator("#commands-note").innerText()).toMatch(/Commands are off: start the dashboard with --key KEYFILE/);
      await p2.click('button[data-key="hq/gate-1"]');
      await p2.waitForSelector("#detail:not([hidden])");
      for (const b of await p2.locator("#cmd-buttons button").all()) expect(await b.isDisabled()).toBe(true);
      expect(await p2.locator("#cmd-off").isVisible()).toBe(true);
      expect(blocking(await runAxe(p2))).toEqual([]);
      await p2.close();
      const r = await fetch(`http://127.0.0.1:${port}/api/command`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-qrgate-dashboard": "1" },
        body: JSON.stringify({ site: "hq", device: "gate-1", op: "lockdown" }),
      });
      expect(r.status).toBe(409);
      expect(((await r.json()) as { error: string }).error).toMatch(/--key/);
    } finally {
      plain.proc.kill("SIGTERM");
      await plain.exited();
    }
  });
});

describe("the dashboard's login beyond loopback", () => {
  let broker: TestBroker;
  let dir: string;

  beforeAll(async () => {
    broker = await startBroker();
    dir = mkdtempSync(join(tmpdir(), "qrgate-dash-login-"));
  });

  afterAll(async () => {
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses to bind beyond this machine without a login, in one line, exit 2", () => {
    const r = runCli(["fleet", "--url", broker.url, "--web", "18099", "--bind", "0.0.0.0"]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^qrgate: fleet: --bind 0\.0\.0\.0 .*--user U and --password-file FILE/)]);
  });

  it("asks for the login on every request, and serves the page with the right one", async () => {
    writeFileSync(join(dir, "pw"), "correct horse battery\n");
    const port = await freePort();
    const dash = spawnCli(["fleet", "--url", broker.url, "--web", String(port), "--bind", "0.0.0.0", "--user", "admin", "--password-file", join(dir, "pw")]);
    try {
      await waitFor(() => dashboardUp(dash), "the dashboard to listen");
      const base = `http://127.0.0.1:${port}`;
      const none = await fetch(`${base}/`);
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toMatch(/^Basic realm="qrgate fleet"/);
      const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}` });
      expect((await fetch(`${base}/`, { headers: basic("admin", "wrong") })).status).toBe(401);
      expect((await fetch(`${base}/`, { headers: basic("root", "correct horse battery") })).status).toBe(401);
      expect((await fetch(`${base}/events`, { headers: basic("admin", "wrong") })).status).toBe(401);
      const ok = await fetch(`${base}/`, { headers: basic("admin", "correct horse battery") });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain("qrgate fleet");
    } finally {
      dash.proc.kill("SIGTERM");
      await dash.exited();
    }
  });
});
