/**
 * The device I/O of a HID scanner behind a small interface, so tests replay recorded reports through a fake while
 * production uses node-hid. node-hid is imported only when a HID scanner starts: its Linux binary needs
 * libusb-1.0 and libudev at load, which a machine without a HID scanner need not have.
 */

export interface HidDeviceInfo {
  readonly path?: string;
  readonly vendorId: number;
  readonly productId: number;
  readonly usagePage?: number;
  readonly usage?: number;
  readonly interface?: number;
  readonly manufacturer?: string;
  readonly product?: string;
}

/** An open HID device. Reports arrive as `data`; an unplugged device emits `error` (and nothing more). */
export interface HidDevice {
  on(event: "data", fn: (report: Buffer) => void): void;
  on(event: "error", fn: (e: Error) => void): void;
  /** Releases the device; safe after an error. */
  close(): Promise<void>;
}

export interface HidBackend {
  /** Every HID device present now. */
  devices(): Promise<HidDeviceInfo[]>;
  /** Opens one by its path; rejects when it is gone or not permitted. */
  open(path: string): Promise<HidDevice>;
}

/** Raised when node-hid cannot load: the message is one plain line naming the missing package. */
export class HidUnavailableError extends Error {
  readonly code = "E_HID_UNAVAILABLE";
  constructor(message: string) {
    super(message);
    this.name = "HidUnavailableError";
  }
}

/** Turns node-hid's load failure into what to install. */
export function explainHidLoadError(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  if (/libusb/i.test(m)) return "the HID scanner driver needs libusb-1.0 (apt install libusb-1.0-0)";
  if (/libudev/i.test(m)) return "the HID scanner driver needs libudev (apt install libudev1)";
  return `the HID scanner driver (node-hid) cannot load: ${m.split("\n")[0] ?? m}`;
}

/** node-hid, loaded on first use. */
export const nodeHidBackend: HidBackend = {
  async devices() {
    const hid = await loadNodeHid();
    return hid.devicesAsync();
  },
  async open(path) {
    const hid = await loadNodeHid();
    const dev = await hid.HIDAsync.open(path);
    return {
      on: (event: "data" | "error", fn: ((r: Buffer) => void) | ((e: Error) => void)) => {
        dev.on(event, fn);
      },
      close: async () => {
        try {
          await dev.close();
        } catch {
          // Closing a device that vanished fails; it is released either way.
        }
      },
    };
  },
};

type NodeHid = typeof import("node-hid");
let loaded: Promise<NodeHid> | null = null;

function loadNodeHid(): Promise<NodeHid> {
  loaded ??= import("node-hid")
    .then((hid) => {
      // node-hid loads its native binary (and with it libudev or libusb) on first use, not on import: force it here.
      hid.getHidapiVersion();
      return hid;
    })
    .catch((e: unknown) => {
      loaded = null;
      throw new HidUnavailableError(explainHidLoadError(e));
    });
  return loaded;
}
