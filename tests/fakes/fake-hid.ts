/**
 * A fake HID bus and device behind the driver's HidBackend interface: devices come and go, an open device replays
 * reports. It enforces the interface's contract: reports from a closed or unplugged device are refused (throw).
 */
import type { HidBackend, HidDevice, HidDeviceInfo } from "../../src/drivers/scanner/hid-device.js";
import { usKeystrokes } from "../../src/drivers/scanner/hid-reports.js";

export class FakeHidDevice implements HidDevice {
  private readonly dataFns: Array<(r: Buffer) => void> = [];
  private readonly errorFns: Array<(e: Error) => void> = [];
  closed = false;

  constructor(readonly info: HidDeviceInfo) {}

  on(event: "data" | "error", fn: ((r: Buffer) => void) | ((e: Error) => void)): void {
    if (this.closed) throw new Error("FakeHidDevice.on after close");
    if (event === "data") this.dataFns.push(fn as (r: Buffer) => void);
    else this.errorFns.push(fn as (e: Error) => void);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** The device sends one input report. */
  report(bytes: Uint8Array | number[]): void {
    if (this.closed) throw new Error("FakeHidDevice: report from a closed device");
    const b = Buffer.from(bytes);
    for (const fn of this.dataFns) fn(b);
  }

  /** What node-hid does when the device is unplugged: one read error. */
  fail(message = "could not read from HID device"): void {
    for (const fn of this.errorFns) fn(new Error(message));
  }
}

export class FakeHidBus implements HidBackend {
  private present: HidDeviceInfo[] = [];
  /** Devices opened, in order; the last is the live one. */
  readonly opened: FakeHidDevice[] = [];
  /** Fails `devices()` as node-hid does when it cannot load. */
  loadError: Error | null = null;

  plug(info: HidDeviceInfo): void {
    this.present.push(info);
  }

  /** Removes the device and fails its open handle. */
  unplug(path: string): void {
    this.present = this.present.filter((d) => d.path !== path);
    for (const d of this.opened) if (d.info.path === path && !d.closed) d.fail();
  }

  get live(): FakeHidDevice | undefined {
    const d = this.opened.at(-1);
    return d !== undefined && !d.closed ? d : undefined;
  }

  devices(): Promise<HidDeviceInfo[]> {
    if (this.loadError !== null) return Promise.reject(this.loadError);
    return Promise.resolve([...this.present]);
  }

  open(path: string): Promise<HidDevice> {
    const info = this.present.find((d) => d.path === path);
    if (info === undefined) return Promise.reject(new Error(`cannot open device with path ${path}`));
    const d = new FakeHidDevice(info);
    this.opened.push(d);
    return Promise.resolve(d);
  }
}

/** HID POS reports (report ID 2, AIM id `]Q1`, 64 bytes) carrying `bytes`, `chunk` data bytes a report. */
export function posReports(bytes: Buffer, chunk = 56): number[][] {
  const reports: number[][] = [];
  for (let off = 0; off < bytes.length || off === 0; off += chunk) {
    const part = bytes.subarray(off, off + chunk);
    const r = new Array<number>(64).fill(0);
    r[0] = 0x02;
    r[1] = part.length;
    r[2] = 0x5d;
    r[3] = 0x51;
    r[4] = 0x31;
    part.forEach((b, i) => (r[5 + i] = b));
    r[63] = off + chunk < bytes.length ? 0x01 : 0x00;
    reports.push(r);
    if (bytes.length === 0) break;
  }
  return reports;
}

/** Boot keyboard reports typing `text` then Enter: each key down then all keys up, Shift for capitals. */
export function keyboardReports(text: string): number[][] {
  const reports: number[][] = [];
  for (const { usage, shift } of [...usKeystrokes(text), { usage: 0x28, shift: false }]) {
    reports.push([shift ? 0x02 : 0x00, 0, usage, 0, 0, 0, 0, 0]);
    reports.push([0, 0, 0, 0, 0, 0, 0, 0]);
  }
  return reports;
}

/** Reads a recording: one report a line, hex bytes separated by spaces; `#` starts a comment. */
export function parseRecording(text: string): number[][] {
  return text
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter((l) => l !== "")
    .map((l) => l.split(/\s+/).map((h) => Number.parseInt(h, 16)));
}
