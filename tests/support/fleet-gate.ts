/**
 * A whole gate (GateApp: real SQLite file, real MQTT session, simulated scanner and relay) that takes the centre's
 * feeds, and a watcher that records what the fleet publishes, for the sync, key and command tests.
 */
import type { KeyObject } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { pino } from "pino";
import { validateConfig } from "../../src/config/load-config.js";
import type { EventMessage } from "../../src/contract/event.js";
import type { EntryMessage } from "../../src/contract/entry.js";
import type { SimScanner } from "../../src/drivers/scanner/sim-scanner.js";
import type { ScanOutcome } from "../../src/gate.js";
import { GateApp } from "../../src/gate-app.js";
import { generateIssuerKeyPair, writeIssuerKeyFiles, type IssuerKeyPair } from "../../src/issuer/key-files.js";
import { waitFor } from "./wait.js";

export interface CentreKeys {
  readonly dir: string;
  readonly pair: IssuerKeyPair;
  readonly privateKey: KeyObject;
  readonly privateKeyPath: string;
  readonly jwksPath: string;
}

/** `qrgate keys gen --kid centre --out DIR`, done in-process. */
export async function makeCentreKey(dir: string): Promise<CentreKeys> {
  const pair = generateIssuerKeyPair("EdDSA", "centre");
  const files = await writeIssuerKeyFiles(dir, pair);
  return { dir, pair, privateKey: pair.privateKey, ...files };
}

export interface FleetGateOptions {
  readonly brokerUrl: string;
  readonly centrePublicKey?: string;
  readonly site?: string;
  readonly device?: string;
  readonly storePath?: string;
  readonly issuerKeys?: string;
  readonly gapWaitMs?: number;
}

export class FleetGate {
  readonly app: GateApp;
  readonly storePath: string;
  private last: ScanOutcome | null = null;

  constructor(opts: FleetGateOptions) {
    this.storePath = opts.storePath ?? join(mkdtempSync(join(tmpdir(), "qrgate-fleet-")), "gate.db");
    const config = validateConfig(
      {
        site: opts.site ?? "hq",
        device: opts.device ?? "gate-1",
        door: "main",
        scanner: { type: "sim" },
        relay: { type: "sim", pulseMs: 100 },
        mqtt: { url: opts.brokerUrl, reconnectMs: 100 },
        store: { path: this.storePath },
        ...(opts.issuerKeys !== undefined ? { passes: { issuerKeys: opts.issuerKeys } } : {}),
        centre: { ...(opts.centrePublicKey !== undefined ? { publicKey: opts.centrePublicKey } : {}), gapWaitMs: opts.gapWaitMs ?? 500 },
        dedupMs: 0,
        log: { level: "silent" },
      },
      "test",
    );
    this.app = new GateApp(config, pino({ level: process.env.QRGATE_TEST_LOG ?? "silent" }));
    this.app.onOutcome((o) => {
      this.last = o;
    });
  }

  start(): Promise<void> {
    return this.app.start();
  }

  stop(): Promise<void> {
    return this.app.stop();
  }

  /** Scans a code and returns what the gate decided. */
  scan(code: string): ScanOutcome {
    this.last = null;
    (this.app.scanner as SimScanner).emit(code);
    const out = this.last as ScanOutcome | null;
    if (out === null) throw new Error("no outcome for the scan");
    return out;
  }

  version(): number {
    return this.app.status.meta().version;
  }

  /** Connected, and (with the centre feeds on) every subscription acknowledged by the broker. */
  connected(): boolean {
    return this.app.session.connected && (this.app.feeds?.router.pendingSubscriptions ?? 0) === 0;
  }
}

/** Subscribes to everything under the root and keeps it, parsed by kind. */
export class Watcher {
  readonly events: EventMessage[] = [];
  readonly entries: EntryMessage[] = [];
  readonly results: Array<{ topic: string; id: string; ok: boolean; error?: string }> = [];

  private constructor(readonly client: MqttClient) {
    client.on("message", (topic, payload) => {
      if (payload.length === 0) return;
      if (topic.endsWith("/event")) this.events.push(JSON.parse(payload.toString()) as EventMessage);
      else if (topic.endsWith("/entry")) this.entries.push(JSON.parse(payload.toString()) as EntryMessage);
      else if (topic.endsWith("/cmd/result")) this.results.push({ topic, ...(JSON.parse(payload.toString()) as { id: string; ok: boolean }) });
    });
  }

  static async connect(url: string): Promise<Watcher> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: `watcher-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 100 });
    await client.subscribeAsync(["qrgate/v1/+/+/event", "qrgate/v1/+/+/entry", "qrgate/v1/+/+/cmd/result"], { qos: 1 });
    return new Watcher(client);
  }

  /** Waits for an event of `type` whose detail matches `re`, and returns it. */
  async event(type: string, re: RegExp, timeoutMs = 10_000): Promise<EventMessage> {
    await waitFor(() => this.events.some((e) => e.event === type && re.test(e.detail)), `a ${type} event matching ${re}`, timeoutMs);
    return this.events.find((e) => e.event === type && re.test(e.detail)) as EventMessage;
  }

  async result(id: string, timeoutMs = 10_000): Promise<{ id: string; ok: boolean; error?: string }> {
    await waitFor(() => this.results.some((r) => r.id === id), `a cmd/result for ${id}`, timeoutMs);
    return this.results.find((r) => r.id === id) as { id: string; ok: boolean; error?: string };
  }

  close(): Promise<void> {
    return this.client.endAsync(true);
  }
}
