/** The USB HID scanner: report parsing replayed from recordings (POS with Vietnamese text, keyboard with Shift and Enter), hot-plug, and the scanner contract in both modes. */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { explainHidLoadError, HidUnavailableError } from "../../src/drivers/scanner/hid-device.js";
import { KeyboardReportParser, PosReportParser, type HidReportEvent } from "../../src/drivers/scanner/hid-reports.js";
import { HidScanner, parseUsbId, pickHidInterface } from "../../src/drivers/scanner/hid-scanner.js";
import { scannerContract } from "../contract/scanner-contract.js";
import { FakeClock } from "../fakes/fake-clock.js";
import { FakeHidBus, keyboardReports, parseRecording, posReports } from "../fakes/fake-hid.js";
import { waitFor } from "../support/wait.js";

const log = pino({ level: "silent" });
const recording = (name: string) => parseRecording(readFileSync(new URL(`../fixtures/hid/${name}`, import.meta.url), "utf8"));
const VIETNAMESE = "001099012345||Nguyễn Thị Ánh Tuyết|01011990|Nữ|Số 7, Ngõ 12, Đường Láng, Đống Đa, Hà Nội|15062021";

function codes(events: HidReportEvent[]): string[] {
  return events.flatMap((e) => (e.kind === "code" ? [e.bytes.toString("utf8")] : []));
}

describe("HID POS reports", () => {
  it("joins a recorded Vietnamese code split across reports inside UTF-8 letters", () => {
    const p = new PosReportParser(4096);
    const reports = recording("pos-vietnamese.hex");
    expect(reports.length).toBeGreaterThan(3);
    const out = reports.flatMap((r) => p.push(Uint8Array.from(r)));
    expect(codes(out)).toEqual([VIETNAMESE]);
    expect(p.pending).toBe(false);
  });

  it("delivers any bytes, split any way, byte-exact", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 56 }), (bytes, chunk) => {
        const b = Buffer.from(bytes);
        fc.pre(b.at(-1) !== 0x0a && b.at(-1) !== 0x0d);
        const p = new PosReportParser(4096);
        const out = posReports(b, chunk).flatMap((r) => p.push(Uint8Array.from(r)));
        expect(out).toEqual([{ kind: "code", bytes: b }]);
      }),
    );
  });

  it("ignores reports that are not scanned data, never reads past a report's end, and refuses an over-long code", () => {
    const p = new PosReportParser(10);
    expect(p.push(Uint8Array.from([0x01, 0x05, 0x41]))).toEqual([]);
    // Declares 200 bytes in a 10-byte report: only what is there counts.
    expect(codes(p.push(Uint8Array.from([0x02, 200, 0x5d, 0x51, 0x31, 0x41, 0x42, 0x43, 0x44, 0x00])))).toEqual(["ABCD"]);
    const long = posReports(Buffer.from("0123456789ABCDEF"), 8).flatMap((r) => p.push(Uint8Array.from(r)));
    expect(long).toEqual([{ kind: "too-long", head: Buffer.from("0123456789"), bytes: 16 }]);
    expect(codes(posReports(Buffer.from("OK")).flatMap((r) => p.push(Uint8Array.from(r))))).toEqual(["OK"]);
  });

  it("strips a CR LF suffix the scanner adds", () => {
    const p = new PosReportParser(100);
    expect(codes(posReports(Buffer.from("ABC\r\n")).flatMap((r) => p.push(Uint8Array.from(r))))).toEqual(["ABC"]);
  });
});

describe("keyboard-emulation reports", () => {
  it("types a recorded pass with Shift and ends it on Enter", () => {
    const p = new KeyboardReportParser(4096);
    const out = recording("keyboard-shift-enter.hex").flatMap((r) => p.push(Uint8Array.from(r)));
    expect(codes(out)).toEqual(["QG1:eyJhbGciOiJFZERTQSJ9.AbC-_x"]);
  });

  it("types a doubled letter (key, release, key) twice and a held key once", () => {
    const p = new KeyboardReportParser(100);
    const held = [
      [0, 0, 0x0f, 0, 0, 0, 0, 0],
      [0, 0, 0x0f, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0, 0, 0],
      [0, 0, 0x0f, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0, 0, 0],
      [0, 0, 0x28, 0, 0, 0, 0, 0],
    ];
    expect(codes(held.flatMap((r) => p.push(Uint8Array.from(r))))).toEqual(["ll"]);
  });

  it("reads 9-byte reports that carry a report ID, and the keypad", () => {
    const p = new KeyboardReportParser(100);
    const out = [
      [1, 0, 0, 0x59, 0, 0, 0, 0, 0],
      [1, 0, 0, 0, 0, 0, 0, 0, 0],
      [1, 0, 0, 0x58, 0, 0, 0, 0, 0],
    ].flatMap((r) => p.push(Uint8Array.from(r)));
    expect(codes(out)).toEqual(["1"]);
  });

  it("counts keys a US layout cannot express (Alt+keypad for non-ASCII) as lost", () => {
    const p = new KeyboardReportParser(100);
    const out = [
      [0, 0, 0x04, 0, 0, 0, 0, 0],
      [0x04, 0, 0x62, 0, 0, 0, 0, 0], // Left Alt + keypad 0
      [0, 0, 0, 0, 0, 0, 0, 0],
      [0, 0, 0x28, 0, 0, 0, 0, 0],
    ].flatMap((r) => p.push(Uint8Array.from(r)));
    expect(out).toEqual([{ kind: "lost-keys", count: 1 }, { kind: "code", bytes: Buffer.from("a") }]);
  });
});

describe("HID device selection and loading", () => {
  const devices = [
    { path: "/dev/hidraw0", vendorId: 0x0c2e, productId: 0x0b61, usagePage: 0x01, usage: 0x06 },
    { path: "/dev/hidraw1", vendorId: 0x0c2e, productId: 0x0b61, usagePage: 0x8c, usage: 0x02 },
    { path: "/dev/hidraw2", vendorId: 0x046d, productId: 0xc31c, usagePage: 0x01, usage: 0x06 },
  ];

  it("reads USB IDs as numbers or lsusb hex", () => {
    expect(parseUsbId("0c2e")).toBe(0x0c2e);
    expect(parseUsbId("0x0B61")).toBe(0x0b61);
    expect(parseUsbId(3118)).toBe(3118);
    expect(parseUsbId(undefined)).toBeUndefined();
  });

  it("prefers the POS interface of the configured device, or the keyboard one when told", () => {
    expect(pickHidInterface(devices, { vendorId: 0x0c2e, productId: 0x0b61, mode: "auto" })?.path).toBe("/dev/hidraw1");
    expect(pickHidInterface(devices, { vendorId: 0x0c2e, productId: 0x0b61, mode: "keyboard" })?.path).toBe("/dev/hidraw0");
    expect(pickHidInterface(devices, { path: "/dev/hidraw2", mode: "auto" })?.vendorId).toBe(0x046d);
    expect(pickHidInterface(devices, { vendorId: 0x1234, productId: 1, mode: "auto" })).toBeUndefined();
  });

  it("turns a missing libusb or libudev into one plain line", () => {
    expect(explainHidLoadError(new Error("libusb-1.0.so.0: cannot open shared object file: No such file or directory"))).toBe(
      "the HID scanner driver needs libusb-1.0 (apt install libusb-1.0-0)",
    );
    expect(explainHidLoadError(new Error("libudev.so.1: cannot open shared object file"))).toBe("the HID scanner driver needs libudev (apt install libudev1)");
  });

  it("reports a driver that cannot load as lost with that line, and keeps trying", async () => {
    const bus = new FakeHidBus();
    bus.loadError = new HidUnavailableError("the HID scanner driver needs libusb-1.0 (apt install libusb-1.0-0)");
    const clock = new FakeClock();
    const s = new HidScanner({ vendorId: 1, productId: 2, mode: "auto", interByteTimeoutMs: 300, maxCodeBytes: 4096, retryMs: 1000 }, clock, log, bus);
    const states: string[] = [];
    await s.start({ code: () => undefined, state: (st, d) => states.push(`${st}: ${d}`) });
    expect(states).toEqual(["lost: the HID scanner driver needs libusb-1.0 (apt install libusb-1.0-0)"]);
    bus.loadError = null;
    bus.plug({ path: "/dev/hidraw5", vendorId: 1, productId: 2, usagePage: 0x8c });
    clock.advance(1000);
    await waitFor(() => states.at(-1) === "connected: hid:0001:0002", "connected once the driver loads");
    await s.stop();
  });

  it("with the real node-hid on this machine (no scanner attached): says the device is not connected", async () => {
    const clock = new FakeClock();
    const s = new HidScanner({ vendorId: 0xfffe, productId: 0xfffe, mode: "auto", interByteTimeoutMs: 300, maxCodeBytes: 4096, retryMs: 1000 }, clock, log);
    const states: string[] = [];
    await s.start({ code: () => undefined, state: (st, d) => states.push(`${st}: ${d}`) });
    expect(states).toEqual(["lost: USB device fffe:fffe is not connected: is the scanner plugged in, and are vendorId/productId right?"]);
    await s.stop();
  });

  it("warns at start that keyboard-emulation mode loses non-ASCII", async () => {
    const bus = new FakeHidBus();
    bus.plug(devices[0]!);
    const lines: string[] = [];
    const capture = pino({ level: "warn" }, { write: (l: string) => lines.push(l) });
    const s = new HidScanner({ vendorId: 0x0c2e, productId: 0x0b61, mode: "keyboard", interByteTimeoutMs: 300, maxCodeBytes: 4096, retryMs: 1000 }, new FakeClock(), capture, bus);
    await s.start({ code: () => undefined, state: () => undefined });
    expect(lines.join("")).toMatch(/keyboard-emulation mode: only ASCII arrives/);
    await s.stop();
  });

  it("delivers an over-long code cut, with its whole length, so the gate refuses it whole", async () => {
    const bus = new FakeHidBus();
    bus.plug(devices[1]!);
    const got: Array<[string, number | undefined]> = [];
    const s = new HidScanner({ vendorId: 0x0c2e, productId: 0x0b61, mode: "auto", interByteTimeoutMs: 300, maxCodeBytes: 300, retryMs: 1000 }, new FakeClock(), log, bus);
    await s.start({ code: (c) => got.push([c.bytes.toString("utf8"), c.totalBytes]), state: () => undefined });
    for (const r of posReports(Buffer.from("x".repeat(400)))) bus.live!.report(r);
    expect(got).toEqual([["x".repeat(300), 400]]);
    await s.stop();
  });

  it("drops a half-received POS code after the inter-report timeout, and the next code is clean", async () => {
    const bus = new FakeHidBus();
    bus.plug(devices[1]!);
    const clock = new FakeClock();
    const got: string[] = [];
    const s = new HidScanner({ vendorId: 0x0c2e, productId: 0x0b61, mode: "auto", interByteTimeoutMs: 300, maxCodeBytes: 4096, retryMs: 1000 }, clock, log, bus);
    await s.start({ code: (c) => got.push(c.bytes.toString("utf8")), state: () => undefined });
    const first = posReports(Buffer.from("ABCDEFGHIJ"), 4);
    bus.live!.report(first[0]!);
    clock.advance(300);
    for (const r of posReports(Buffer.from("NEXT"))) bus.live!.report(r);
    expect(got).toEqual(["NEXT"]);
    await s.stop();
  });
});

for (const mode of ["pos", "keyboard"] as const) {
  const info = { path: "/dev/hidraw3", vendorId: 0x0c2e, productId: 0x0b61, usagePage: mode === "pos" ? 0x8c : 0x01, usage: mode === "pos" ? 2 : 6 };
  scannerContract(`hid (${mode})`, { unplug: true, utf8: mode === "pos" }, () => {
    const bus = new FakeHidBus();
    bus.plug(info);
    const clock = new FakeClock();
    const scanner = new HidScanner({ vendorId: 0x0c2e, productId: 0x0b61, mode: "auto", interByteTimeoutMs: 300, maxCodeBytes: 4096, retryMs: 500 }, clock, log, bus);
    return Promise.resolve({
      scanner,
      send: (text: string) => {
        const live = bus.live;
        if (live === undefined) throw new Error("no open device to send from");
        for (const r of mode === "pos" ? posReports(Buffer.from(text, "utf8")) : keyboardReports(text)) live.report(r);
      },
      unplug: () => bus.unplug(info.path),
      replug: () => bus.plug(info),
      passRetry: async () => {
        clock.advance(500);
        for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      },
      settle: () => new Promise<void>((r) => setImmediate(r)),
      dispose: () => Promise.resolve(),
    });
  });
}
