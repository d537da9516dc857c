/**
 * The screen at the door in a real browser: `qrgate run` as a child process with kiosk.enabled, a serial scanner
 * on a socat pty and a real Mosquitto, the kiosk page in Debian's Chromium. Each result is checked on screen and
 * its entry -> pixels time read from the page (Performance API against the entry's time), not from a sleep.
 * Screenshots go to docs/screenshots/ (linked from the README).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load-config.js";
import { GateApp } from "../../src/gate-app.js";
import { blocking, launchChromium, runAxe } from "../support/browser.js";
import { runCli, spawnCli, type CliChild } from "../support/cli.js";
import { freePort, startBroker, type TestBroker } from "../support/mosquitto.js";
import { openPtyPair, type PtyPair } from "../support/pty.js";
import { waitFor } from "../support/wait.js";

const SHOTS = fileURLToPath(new URL("../../docs/screenshots/", import.meta.url));
const CARD = (id: string, dob: string, name: string) => `${id}|123456789|${name}|${dob}|Nam|Số 1 Phố Huế, Hai Bà Trưng, Hà Nội|15062021`;
const ALLOWED = CARD("001099012345", "01011990", "Nguyễn Văn An");
const F0 = CARD("079188001234", "12031988", "TRẦN THỊ BÌNH");
const ONE_DOSE = CARD("001099000333", "03031993", "Lê Văn Cường");
const STATUS_CSV = [
  "id,status,doses,last_dose,recovered_on,dob,zone,flags",
  "001099012345,clear,2,2021-09-01,,1990-01-01,green,",
  "079188001234,f0,2,2021-08-20,,1988-03-12,yellow,",
  "001099000333,clear,1,2021-10-01,,1993-03-03,green,",
].join("\n");
/** The bound for a result on screen after the entry; the bench measures the real distribution. */
const ON_SCREEN_WITHIN_MS = 200;

interface Last {
  seq: number;
  decision: string;
  reason: string;
  entryToPixelsMs: number;
}

const lastResult = (page: Page) => page.evaluate<Last | null>("window.qrgateKiosk.last");
const screenText = (page: Page) => page.evaluate<string>("document.body.innerText");

async function resultOnScreen(page: Page, seq: number): Promise<Last> {
  await page.waitForFunction(`window.qrgateKiosk.last !== null && window.qrgateKiosk.last.seq >= ${seq}`, undefined, { timeout: 10_000 });
  return (await lastResult(page))!;
}

function writeConfig(dir: string, pty: PtyPair, broker: TestBroker, kioskPort: number): string {
  const path = join(dir, "config.json");
  writeFileSync(
    path,
    JSON.stringify({
      site: "hq",
      device: "gate-1",
      door: "lobby",
      scanner: { type: "serial", path: pty.devicePath, retryMs: 200 },
      relay: { type: "sim", pulseMs: 500 },
      mqtt: { url: broker.url, reconnectMs: 200 },
      store: { path: "store/gate.db" },
      kiosk: { enabled: true, port: kioskPort },
    }),
  );
  writeFileSync(join(dir, "status.csv"), STATUS_CSV);
  const r = runCli(["status", "import", join(dir, "status.csv"), "--config", path]);
  if (r.status !== 0) throw new Error(`status import failed: ${r.stderr}`);
  return path;
}

describe("the kiosk page of a running gate, in Chromium", () => {
  let dir: string;
  let broker: TestBroker;
  let pty: PtyPair;
  let gate: CliChild;
  let browser: Browser;
  let page: Page;
  let url: string;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), "qrgate-kiosk-"));
    broker = await startBroker();
    pty = await openPtyPair(dir);
    const port = await freePort();
    url = `http://127.0.0.1:${port}/`;
    const configPath = writeConfig(dir, pty, broker, port);
    gate = spawnCli(["run", "--config", configPath], { cwd: dir });
    await waitFor(() => gate.logs().some((l) => l.msg === "kiosk screen listening"), "the kiosk screen to listen");
    await waitFor(() => gate.logs().some((l) => l.msg === "scanner connected"), "the scanner to connect");
    await waitFor(() => gate.logs().some((l) => l.msg === "mqtt connected"), "the gate to reach the broker");
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 800, height: 480 }, bypassCSP: true });
    await page.goto(url);
    await page.waitForFunction("window.qrgateKiosk.status !== null && window.qrgateKiosk.status.online === true");
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    gate?.proc.kill("SIGTERM");
    await gate?.exited();
    await pty?.close();
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("idles with the Vietnamese prompt and an English line, no banner when all is well", async () => {
    expect(await page.getAttribute("body", "data-screen")).toBe("idle");
    const text = await screenText(page);
    expect(text).toContain("Quét mã QR trên CCCD hoặc ứng dụng");
    expect(text).toContain("Scan the QR code on your ID card or in the app");
    expect(await page.getAttribute("body", "data-banners")).toBe("none");
    await page.screenshot({ path: join(SHOTS, "kiosk-idle.png") });
    expect(blocking(await runAxe(page))).toEqual([]);
  });

  it("shows 'Mời vào' in green with the given name for an allowed card, within 200 ms of the entry", async () => {
    pty.write(ALLOWED + "\r\n");
    const r = await resultOnScreen(page, 1);
    expect(r).toMatchObject({ decision: "allow", reason: "ok" });
    expect(r.entryToPixelsMs).toBeGreaterThan(0);
    expect(r.entryToPixelsMs).toBeLessThan(ON_SCREEN_WITHIN_MS);
    expect(await page.getAttribute("body", "data-screen")).toBe("allow");
    const text = await screenText(page);
    expect(text).toContain("Mời vào");
    expect(text).toContain("Please enter");
    expect(text).toContain("Xin chào An");
    expect(text).not.toContain("001099012345");
    expect(text).not.toContain("Nguyễn");
    await page.screenshot({ path: join(SHOTS, "kiosk-allow.png") });
    expect(blocking(await runAxe(page))).toEqual([]);
  });

  it("turns red with the reason in Vietnamese and English and what to do next for an F0 card, naming no one", async () => {
    pty.write(F0 + "\r\n");
    const r = await resultOnScreen(page, 2);
    expect(r).toMatchObject({ decision: "deny", reason: "infected" });
    expect(r.entryToPixelsMs).toBeLessThan(ON_SCREEN_WITHIN_MS);
    expect(await page.getAttribute("body", "data-screen")).toBe("deny");
    const bg = await page.evaluate("getComputedStyle(document.body).backgroundColor");
    expect(bg).toBe("rgb(155, 13, 13)");
    const text = await screenText(page);
    expect(text).toContain("Đang mắc COVID-19 (F0)");
    expect(text).toContain("Vui lòng gặp nhân viên tại bàn");
    expect(text).toContain("Please see the staff at the desk");
    expect(text).not.toContain("079188001234");
    expect(text).not.toMatch(/Bình|BÌNH/);
    await page.screenshot({ path: join(SHOTS, "kiosk-deny.png") });
    expect(blocking(await runAxe(page))).toEqual([]);
  });

  it("says 'Chưa đủ mũi tiêm' / 'Not fully vaccinated' for one dose, then goes back to idle by itself", async () => {
    pty.write(ONE_DOSE + "\r\n");
    const r = await resultOnScreen(page, 3);
    expect(r).toMatchObject({ decision: "deny", reason: "insufficient_vaccination" });
    const text = await screenText(page);
    expect(text).toContain("Chưa đủ mũi tiêm");
    expect(text).toContain("Not fully vaccinated");
    await page.waitForFunction("document.body.dataset.screen === 'idle'", undefined, { timeout: 15_000 });
  });

  it("shows the offline banner while the broker is away, and drops it when it is back", async () => {
    await broker.stop();
    await page.waitForFunction("document.body.innerText.includes('Mất kết nối với trung tâm')", undefined, { timeout: 15_000 });
    expect(await screenText(page)).toContain("Offline from the centre, checks continue");
    await page.screenshot({ path: join(SHOTS, "kiosk-offline.png") });
    expect(blocking(await runAxe(page))).toEqual([]);
    await broker.start();
    await page.waitForFunction("document.body.dataset.banners === 'none'", undefined, { timeout: 15_000 });
  });

  it("opens the technician view on the T key with device, version, broker, last sync, scanner and relay", async () => {
    await page.keyboard.press("t");
    const text = await page.locator("#tech").innerText();
    expect(text).toMatch(/hq \/ gate-1 \(lobby\)/);
    expect(text).toMatch(/Version\s+\d+\.\d+\.\d+/);
    expect(text).toMatch(/Broker\s+connected/);
    expect(text).toMatch(/Last sync\s+\d{4}-\d\d-\d\dT/);
    expect(text).toMatch(/Scanner\s+serial:.*connected/);
    expect(text).toMatch(/Relay\s+sim: (locked|released)/);
    expect(text).toMatch(/Door contact\s+none configured/);
    await page.keyboard.press("t");
    expect(await page.locator("#tech").isHidden()).toBe(true);
  });

  it("serves nothing but the page, its two files and the event stream", async () => {
    for (const path of ["/x", "/../package.json", "/kiosk/index.html", "/events/x"]) {
      const res = await fetch(new URL(path, url));
      expect(res.status, path).toBe(404);
    }
    expect((await fetch(new URL("/kiosk.js", url))).status).toBe(200);
  });

  it("runs under its own Content-Security-Policy with nothing blocked (no inline script or style, no other origin)", async () => {
    const strict = await browser.newPage({ viewport: { width: 800, height: 480 } });
    const problems: string[] = [];
    strict.on("console", (m) => {
      if (m.type() === "error") problems.push(m.text());
    });
    strict.on("requestfailed", (r) => problems.push(`${r.url()} ${r.failure()?.errorText ?? ""}`));
    strict.on("request", (r) => {
      if (!r.url().startsWith(url)) problems.push(`request to another origin: ${r.url()}`);
    });
    await strict.goto(url);
    await strict.waitForSelector('body[data-banners="none"]');
    await strict.close();
    expect(problems).toEqual([]);
  });

  it("tells the person the reader is not running when the gate process is gone", async () => {
    gate.proc.kill("SIGTERM");
    await gate.exited();
    await page.waitForFunction("document.body.innerText.includes('Đầu đọc không hoạt động')", undefined, { timeout: 15_000 });
  });
});

describe("the kiosk page of a gate in lockdown", () => {
  let dir: string;
  let broker: TestBroker;
  let pty: PtyPair;
  let app: GateApp;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "qrgate-kiosk-lock-"));
    broker = await startBroker();
    pty = await openPtyPair(dir);
    const port = await freePort();
    const configPath = writeConfig(dir, pty, broker, port);
    app = new GateApp(loadConfig(configPath).config, pino({ level: "silent" }));
    await app.start();
    await waitFor(() => app.session.connected, "the gate to reach the broker");
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 800, height: 480 }, bypassCSP: true });
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction("window.qrgateKiosk.status !== null && window.qrgateKiosk.status.online === true");
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await pty?.close();
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("shows the lockdown banner as soon as the gate is locked down, and refuses an allowed card in words", async () => {
    app.gate.setMode("lockdown");
    await page.waitForFunction("document.body.innerText.includes('Cổng đang tạm đóng')", undefined, { timeout: 5_000 });
    pty.write(ALLOWED + "\r\n");
    const r = await resultOnScreen(page, 1);
    expect(r).toMatchObject({ decision: "deny", reason: "lockdown" });
    const text = await screenText(page);
    expect(text).toContain("Gate temporarily closed");
    expect(text).not.toContain("Xin chào");
    await page.screenshot({ path: join(SHOTS, "kiosk-lockdown.png") });
    expect(blocking(await runAxe(page))).toEqual([]);
  });
});
