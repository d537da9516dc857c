/** The serial scanner driver on a real pseudo-terminal: raw UTF-8 bytes, port locking, unplug and retry. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/drivers/clock.js";
import type { ScannerListener } from "../../src/drivers/scanner/scanner.js";
import { SerialScanner } from "../../src/drivers/scanner/serial-scanner.js";
import { openPtyPair, type PtyPair } from "../support/pty.js";
import { waitFor } from "../support/wait.js";

const log = pino({ level: "silent" });
const opts = (path: string) => ({ path, baudRate: 9600, suffix: "auto" as const, interByteTimeoutMs: 300, maxCodeBytes: 4096, retryMs: 100 });

function recorder() {
  const codes: string[] = [];
  const states: Array<[string, string]> = [];
  const listener: ScannerListener = {
    code: (c) => codes.push(c.bytes.toString("utf8")),
    state: (s, d) => states.push([s, d]),
  };
  return { codes, states, listener };
}

describe("serial scanner on a pty", () => {
  const open: Array<{ stop(): Promise<void> } | PtyPair> = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await ("write" in o ? o.close() : o.stop());
  });

  it("delivers codes byte-exact, Vietnamese names included", async () => {
    const pty = await openPtyPair(mkdtempSync(join(tmpdir(), "qrgate-serial-")));
    open.push(pty);
    const s = new SerialScanner(opts(pty.devicePath), systemClock, log);
    const r = recorder();
    await s.start(r.listener);
    open.push(s);
    const code = "001099012345||Nguyễn Thị Ánh Tuyết|01011990|Nữ|Số 7, Ngõ 12, Đường Láng, Đống Đa, Hà Nội|15062021";
    pty.write(code + "\r\n");
    pty.write("second\r");
    await waitFor(() => r.codes.length === 2, "two codes");
    expect(r.codes).toEqual([code, "second"]);
  });

  it("says plainly that a port is locked by another process, and takes it once it is free", async () => {
    const pty = await openPtyPair(mkdtempSync(join(tmpdir(), "qrgate-serial-")));
    open.push(pty);
    const first = new SerialScanner(opts(pty.devicePath), systemClock, log);
    await first.start(recorder().listener);
    const second = new SerialScanner(opts(pty.devicePath), systemClock, log);
    const r = recorder();
    await second.start(r.listener);
    open.push(second);
    expect(r.states[0]?.[0]).toBe("lost");
    expect(r.states[0]?.[1]).toMatch(/in use by another process \(Cannot lock port\)/);
    await first.stop();
    await waitFor(() => r.states.some(([s]) => s === "connected"), "the second scanner to take the port");
    pty.write("after\n");
    await waitFor(() => r.codes.includes("after"), "a code through the second scanner");
  });

  it("reports a missing device and keeps retrying without crashing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qrgate-serial-"));
    const s = new SerialScanner(opts(join(dir, "scanner-tty")), systemClock, log);
    const r = recorder();
    await s.start(r.listener);
    open.push(s);
    expect(r.states).toEqual([["lost", expect.stringMatching(/does not exist: is the scanner plugged in/) as unknown]]);
    // Plug it in: the pty appears at the configured path.
    const pty = await openPtyPair(dir);
    open.splice(open.indexOf(s), 0, pty);
    await waitFor(() => r.states.some(([st]) => st === "connected"), "the scanner to be found");
    pty.write("hello\n");
    await waitFor(() => r.codes.includes("hello"), "a code after plugging in");
  });
});
