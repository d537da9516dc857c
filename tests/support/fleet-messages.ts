/** Device messages as a gate publishes them, for tests and the bench that play devices without running gates. */
import type { HealthMessage } from "../../src/contract/health.js";

export function healthMessage(site: string, device: string, tsMs: number, over: Partial<HealthMessage> = {}): HealthMessage {
  return {
    v: 1,
    ts: new Date(tsMs).toISOString(),
    site,
    device,
    version: "0.1.0",
    bootId: "00000000-0000-4000-8000-000000000000",
    periodS: 30,
    uptimeS: 3600,
    outbox: { depth: 0, oldestAgeS: null },
    status: { version: 7, ageS: 600, rows: 1000, stale: false },
    scanMs: { p50: 3.1, p99: 9.8, count: 100 },
    scanner: "connected",
    relay: "off",
    door: null,
    diskFreeBytes: 8_000_000_000,
    clock: { synchronised: true },
    lastEntry: null,
    alarms: [],
    ...over,
  };
}

export function stateMessage(state: "online" | "offline", tsMs: number): string {
  return JSON.stringify({ state, ts: new Date(tsMs).toISOString(), version: "0.1.0", bootId: "00000000-0000-4000-8000-000000000000" });
}
