/**
 * `npm run bench`: the real gate loop (serial pty -> framer -> decision -> SQLite journal -> relay, with the
 * uplink draining to a real Mosquitto) over a 1,000,000-row status table, fed 10,000 mixed codes one after another.
 * Prints percentiles of code received -> relay commanded, of the decision alone, and RSS. Figures, not assertions.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pino } from "pino";
import { validateConfig } from "../../src/config/load-config.js";
import { decide } from "../../src/core/decide.js";
import { parseJwks } from "../../src/core/jwks.js";
import { DEFAULT_POLICY } from "../../src/core/policy.js";
import type { StatusRow } from "../../src/core/status-row.js";
import { GateApp } from "../../src/gate-app.js";
import type { ScanOutcome } from "../../src/gate.js";
import { generateIssuerKeyPair, publicJwkOf, writeIssuerKeyFiles } from "../../src/issuer/key-files.js";
import { signPass } from "../../src/issuer/pass-signer.js";
import { SimScanner } from "../../src/drivers/scanner/sim-scanner.js";
import { startBroker } from "../support/mosquitto.js";
import { openPtyPair, type PtyPair } from "../support/pty.js";

const TABLE_ROWS = 1_000_000;
const CODES = 10_000;
const STATUSES: StatusRow["status"][] = ["clear", "clear", "clear", "clear", "clear", "clear", "f0", "f1", "blocked", "clear"];

const idOf = (n: number) => `0010${String(n).padStart(8, "0")}`;

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

function line(name: string, values: number[]): string {
  const f = (n: number) => n.toFixed(3).padStart(9);
  return `${name.padEnd(34)} p50 ${f(pct(values, 50))}  p95 ${f(pct(values, 95))}  p99 ${f(pct(values, 99))}  max ${f(Math.max(...values))}  ms`;
}

function hasSocat(): boolean {
  try {
    execFileSync("socat", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "qrgate-bench-"));
  const broker = await startBroker({ persistence: false });
  const usePty = hasSocat();
  const pty: PtyPair | null = usePty ? await openPtyPair(dir) : null;
  const ed = generateIssuerKeyPair("EdDSA", "bench-ed");
  const es = generateIssuerKeyPair("ES256", "bench-es");
  const files = await writeIssuerKeyFiles(join(dir, "keys"), ed);
  await writeIssuerKeyFiles(join(dir, "keys"), es);

  const config = validateConfig(
    {
      site: "bench",
      device: "gate-1",
      scanner: usePty ? { type: "serial", path: pty?.devicePath, baudRate: 115200 } : { type: "sim" },
      relay: { type: "sim", pulseMs: 100 },
      mqtt: { url: broker.url },
      store: { path: join(dir, "gate.db") },
      passes: { issuerKeys: files.jwksPath },
      dedupMs: 0,
      log: { level: "info" },
    },
    "bench",
  );
  // Logs as in production (info, one line a scan), but to /dev/null so the terminal is not the bottleneck.
  const log = pino({ level: "info" }, pino.destination({ dest: "/dev/null", sync: true }));
  const app = new GateApp(config, log);
  await app.start();

  process.stdout.write(`status table: loading ${TABLE_ROWS.toLocaleString("en")} rows… `);
  let t0 = performance.now();
  const stage = app.status.beginReplace();
  for (let base = 0; base < TABLE_ROWS; base += 10_000) {
    const rows: StatusRow[] = [];
    for (let n = base; n < base + 10_000; n++) {
      rows.push({ id: idOf(n), status: STATUSES[n % 10] as StatusRow["status"], doses: n % 4, lastDose: "2021-09-01", recoveredOn: null, dob: "1990-01-01", zone: n % 17 === 0 ? "red" : "green", flags: n % 50 === 0 ? ["staff"] : [] });
    }
    stage.addBatch(rows);
  }
  stage.commit(Date.now());
  process.stdout.write(`${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  // The codes: 45% cards of known people, 10% unknown cards, 30% passes (EdDSA and ES256), 15% bad input.
  const nowS = Math.floor(Date.now() / 1000);
  const codes: string[] = [];
  for (let i = 0; i < CODES; i++) {
    const n = (i * 7919) % TABLE_ROWS;
    const r = i % 20;
    if (r < 9) codes.push(`${idOf(n)}|123456789|Nguyễn Văn ${i}|01011990|Nam|Số ${i} Phố Huế, Hà Nội|15062021`.replace(/ \d+\|01/, " An|01"));
    else if (r < 11) codes.push(`${idOf(TABLE_ROWS + i)}||Trần Thị Bình|12031988|Nữ|Quận 1, TP. Hồ Chí Minh|20052021`);
    else if (r < 17) {
      const key = r % 2 === 0 ? ed : es;
      codes.push(signPass({ privateKey: key.privateKey, kid: key.kid, alg: key.alg, sub: idOf(n), ttlS: 600, nowS }));
    } else if (r === 17) codes.push(`https://example.com/not-a-gate-code/${i}`);
    else if (r === 18) codes.push(`QG1:eyJhbGciOiJFZERTQSJ9.${i}`);
    else codes.push(`${idOf(n)}|x|bad|99999999|Nam|x|00000000`);
  }

  const outcomes: ScanOutcome[] = [];
  let waiting: (() => void) | null = null;
  app.onOutcome((o) => {
    outcomes.push(o);
    waiting?.();
  });
  await new Promise((r) => setTimeout(r, 200));

  const scanner = app.scanner;
  const send = (code: string): Promise<void> =>
    new Promise((resolve) => {
      waiting = () => {
        waiting = null;
        resolve();
      };
      if (pty !== null) pty.write(code + "\r\n");
      else (scanner as SimScanner).emit(code);
    });
  t0 = performance.now();
  for (const code of codes) await send(code);
  const wall = performance.now() - t0;
  const drained = await app.drained(30_000);
  const rss = process.memoryUsage().rss;

  // The pure decision, alone, over the same codes (fresh replay set; the same status table).
  const keys = parseJwks({ keys: [publicJwkOf(ed), publicJwkOf(es)] });
  if (!keys.ok) throw new Error(keys.error.join("; "));
  const used = new Set<string>();
  const pure: number[] = [];
  for (const code of codes) {
    const bytes = Buffer.from(code, "utf8");
    const s = performance.now();
    const d = decide({ bytes, nowMs: Date.now(), mode: "normal", policy: DEFAULT_POLICY, keys: keys.value, skewS: 30, replay: used, lookup: (id) => app.status.lookup(id) });
    pure.push(performance.now() - s);
    if (d.usedPass !== null) used.add(d.usedPass.jti);
  }

  const reasons = new Map<string, number>();
  for (const o of outcomes) reasons.set(o.reason, (reasons.get(o.reason) ?? 0) + 1);
  const allowed = outcomes.filter((o) => o.decision === "allow").length;
  process.stdout.write(
    [
      "",
      `gate loop: ${outcomes.length.toLocaleString("en")} codes via ${usePty ? "a serial pty (socat, 115200 baud)" : "the sim scanner (no socat)"}, ${allowed} allowed, in ${(wall / 1000).toFixed(2)} s (${Math.round(outcomes.length / (wall / 1000))} scans/s, one at a time)`,
      `reasons: ${[...reasons].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(", ")}`,
      line("code received -> relay commanded", outcomes.map((o) => o.totalMs)),
      line("code received -> decision", outcomes.map((o) => o.decideMs)),
      line("journal commit + relay (sync=FULL)", outcomes.map((o) => o.totalMs - o.decideMs)),
      line("decide() alone (core + lookup)", pure),
      `outbox drained to Mosquitto: ${drained ? "yes" : "NO"}; RSS ${(rss / 1048576).toFixed(0)} MiB`,
      "",
    ].join("\n"),
  );
  await app.stop();
  await pty?.close();
  await broker.dispose();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  // The broker and socat are children: exit rather than wait on them.
  process.exit(1);
});
