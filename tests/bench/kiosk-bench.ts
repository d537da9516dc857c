/**
 * `npm run bench:web`: what people see, measured in Debian's Chromium.
 *  1. Kiosk: entry -> pixels over 100 scans through a serial pty into a running gate (in-process GateApp with
 *     kiosk.enabled, real SQLite, real Mosquitto), measured by the page itself (Performance API against the entry
 *     time the gate stamped on the code's last byte).
 *  2. Dashboard: `qrgate fleet --web` following 1,000 simulated devices that publish health (every device every
 *     5 s, six times the real rate); interaction -> next paint for filter changes, typing and opening a device.
 * Figures, not assertions.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { pino } from "pino";
import { validateConfig } from "../../src/config/load-config.js";
import { GateApp } from "../../src/gate-app.js";
import { launchChromium, runAxe, type AxeSummary } from "../support/browser.js";
import { healthMessage, stateMessage } from "../support/fleet-messages.js";
import { freePort, startBroker } from "../support/mosquitto.js";
import { openPtyPair } from "../support/pty.js";

const SCANS = 100;
const DEVICES = 1000;
const HEALTH_EVERY_MS = 5000;
const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

function axeLine(what: string, a: AxeSummary): string {
  const v = a.violations.map((x) => `${x.id} (${x.impact ?? "?"}, ${x.nodes} nodes)`);
  return `axe-core ${what.padEnd(30)} ${a.passes} rules pass, ${a.incomplete} need review, violations: ${v.length === 0 ? "none" : v.join(", ")}`;
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}
function line(name: string, values: number[]): string {
  const f = (n: number) => n.toFixed(1).padStart(7);
  return `${name.padEnd(40)} n ${String(values.length).padStart(4)}  p50 ${f(pct(values, 50))}  p99 ${f(pct(values, 99))}  max ${f(Math.max(...values))}  ms`;
}
const waitUntil = async (cond: () => boolean, what: string, ms = 20_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

async function kiosk(brokerUrl: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "qrgate-kiosk-bench-"));
  const pty = await openPtyPair(dir);
  const port = await freePort();
  const cfg = validateConfig({
    site: "bench",
    device: "kiosk-1",
    scanner: { type: "serial", path: pty.devicePath, retryMs: 200 },
    relay: { type: "sim", pulseMs: 100 },
    mqtt: { url: brokerUrl, reconnectMs: 200 },
    store: { path: join(dir, "gate.db") },
    kiosk: { enabled: true, port },
    dedupMs: 0,
  }, "kiosk bench");
  const app = new GateApp(cfg, pino({ level: "silent" }));
  await app.start();
  const stage = app.status.beginReplace();
  stage.addBatch([{ id: "001099012345", status: "clear", doses: 2, lastDose: "2021-09-01", recoveredOn: null, dob: "1990-01-01", zone: "green", flags: [] }]);
  stage.commit(Date.now());
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 800, height: 480 }, bypassCSP: true });
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction("window.qrgateKiosk.status !== null");
  const card = (i: number) => `001099012345|123456789|Nguyễn Văn An|01011990|Nam|Số ${i} Phố Huế, Hà Nội|15062021`;
  for (let i = 0; i < SCANS; i++) {
    pty.write(card(i) + "\r\n");
    await page.waitForFunction(`window.qrgateKiosk.latencies.length >= ${i + 1}`, undefined, { timeout: 10_000 });
  }
  const ms = await page.evaluate<number[]>("window.qrgateKiosk.latencies");
  console.log(line("kiosk entry -> pixels", ms));
  console.log(axeLine("kiosk (allow screen)", await runAxe(page)));
  await page.waitForFunction("document.body.dataset.screen === 'idle'", undefined, { timeout: 15_000 });
  console.log(axeLine("kiosk (idle screen)", await runAxe(page)));
  await browser.close();
  await app.stop();
  await pty.close();
  rmSync(dir, { recursive: true, force: true });
}

async function dashboard(brokerUrl: string): Promise<void> {
  const pub = mqtt.connect(brokerUrl, { clientId: "bench-devices" });
  await new Promise<void>((r) => pub.once("connect", () => r()));
  const sites = 20;
  const name = (i: number) => ({ site: `site-${i % sites}`, device: `gate-${String(i).padStart(4, "0")}` });
  for (let i = 0; i < DEVICES; i++) {
    const { site, device } = name(i);
    pub.publish(`qrgate/v1/${site}/${device}/state`, stateMessage(i % 50 === 0 ? "offline" : "online", Date.now()), { retain: true, qos: 0 });
  }
  let published = 0;
  // Spread evenly like real devices (each on its own phase), every device every HEALTH_EVERY_MS.
  const SLICES = 50;
  let slice = 0;
  const tick = () => {
    const now = Date.now();
    for (let i = slice; i < DEVICES; i += SLICES) {
      const { site, device } = name(i);
      const h = healthMessage(site, device, now, { outbox: { depth: (now / 1000 + i) % 7 | 0, oldestAgeS: null }, scanMs: { p50: 3, p99: 5 + (i % 13), count: 100 } });
      pub.publish(`qrgate/v1/${site}/${device}/health`, JSON.stringify(h), { retain: true, qos: 0 });
      published++;
    }
    slice = (slice + 1) % SLICES;
  };
  for (let k = 0; k < SLICES; k++) tick();
  const timer = setInterval(tick, HEALTH_EVERY_MS / SLICES);
  const port = await freePort();
  const dash = spawn(process.execPath, [CLI, "fleet", "--url", brokerUrl, "--web", String(port)], { stdio: ["ignore", "pipe", "ignore"] });
  let out = "";
  dash.stdout.on("data", (b: Buffer) => (out += b.toString("utf8")));
  await waitUntil(() => out.includes("qrgate fleet dashboard:"), "the dashboard");
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, bypassCSP: true });
  const t0 = performance.now();
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(`window.qrgateFleet.devices.size >= ${DEVICES} && document.querySelectorAll("#rows tr").length > 0`, undefined, { timeout: 30_000 });
  console.log(`dashboard: ${DEVICES} devices on screen ${(performance.now() - t0).toFixed(0)} ms after opening the page`);
  const states = ["offline", "", "silent", "ok", "problem", ""];
  for (let round = 0; round < 10; round++) {
    for (const s of states) await page.selectOption("#f-state", s);
    await page.selectOption("#f-site", `site-${round}`);
    await page.selectOption("#f-site", "");
    await page.fill("#f-text", `gate-0${round}`);
    await page.fill("#f-text", "");
    await page.click(`#rows tr:nth-child(${round + 1}) button.link`);
  }
  await page.waitForFunction("window.qrgateFleet.interactions.length >= 100");
  const ms = await page.evaluate<number[]>("window.qrgateFleet.interactions");
  console.log(line(`dashboard interaction -> paint (${DEVICES} devices)`, ms));
  const parts = await page.evaluate<Array<{ target: string; queuedMs: number; handlerMs: number; totalMs: number }>>("window.qrgateFleet.breakdown");
  for (const target of [...new Set(parts.map((p) => p.target))]) {
    const of = parts.filter((p) => p.target === target);
    console.log(`  ${target.padEnd(12)} total ${line("", of.map((p) => p.totalMs)).trim()} | waiting p99 ${pct(of.map((p) => p.queuedMs), 99).toFixed(1)} handler p99 ${pct(of.map((p) => p.handlerMs), 99).toFixed(1)}`);
  }
  console.log(`dashboard: ${published} health messages published during the run`);
  console.log(axeLine(`dashboard (${DEVICES} devices, detail)`, await runAxe(page)));
  clearInterval(timer);
  await browser.close();
  dash.kill("SIGTERM");
  pub.end(true);
}

async function main(): Promise<void> {
  const broker = await startBroker();
  try {
    if (process.argv[2] !== "--dashboard") await kiosk(broker.url);
    await dashboard(broker.url);
  } finally {
    await broker.dispose();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
