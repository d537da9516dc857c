/**
 * Parsing of a USB HID scanner's input reports, pure (no I/O, no clock): the driver feeds reports in and gets whole
 * codes out. Two modes scanners ship in:
 *
 * - HID POS (usage page 0x8C, "Bar Code Scanner"): each report carries raw bytes of the code, so UTF-8 survives;
 *   a long code spans several reports, the last of which has its continuation flag clear.
 * - Keyboard emulation (boot keyboard reports): the code is typed key by key on a US layout, ended by Enter. Only
 *   ASCII can be typed this way: a Vietnamese name arrives without its diacritics or not at all.
 */

/** HID usage page of bar code scanners (HID Point of Sale Usage Tables). */
export const HID_POS_USAGE_PAGE = 0x8c;

export type HidReportEvent =
  | { readonly kind: "code"; readonly bytes: Buffer }
  /** A code longer than the limit: `head` is its first `maxCodeBytes` bytes, `bytes` its whole length (refused whole). */
  | { readonly kind: "too-long"; readonly head: Buffer; readonly bytes: number }
  /** Keys that a US keyboard layout cannot express (AltGr, Alt+keypad sequences, unknown usages) were dropped. */
  | { readonly kind: "lost-keys"; readonly count: number };

export interface HidReportParser {
  /** Feeds one input report as read from the device; returns what it completed (usually nothing or one code). */
  push(report: Uint8Array): HidReportEvent[];
  /** True while a code is half received (the driver drops it after the inter-report timeout). */
  readonly pending: boolean;
  /** Forgets a half-received code. */
  reset(): void;
}

/** Removes one trailing CR, LF or CR LF: a suffix the scanner may be set to add. */
function stripSuffix(b: Buffer): Buffer {
  let end = b.length;
  if (end > 0 && b[end - 1] === 0x0a) end--;
  if (end > 0 && b[end - 1] === 0x0d) end--;
  return end === b.length ? b : b.subarray(0, end);
}

/**
 * HID POS scanned-data reports, in the layout Honeywell, Zebra and Newland use for report ID 2:
 * `[0x02][n][3-byte AIM symbology id "]Q1"][n data bytes][…padding][flags]`, bit 0 of the last byte set when more
 * reports of the same code follow. Scanners that send no symbology id (byte 2 is not `]`) have data from byte 2.
 */
export class PosReportParser implements HidReportParser {
  private parts: Buffer[] = [];
  private size = 0;
  private overflow = false;

  constructor(private readonly maxCodeBytes: number) {}

  get pending(): boolean {
    return this.size > 0 || this.overflow;
  }

  reset(): void {
    this.parts = [];
    this.size = 0;
    this.overflow = false;
  }

  push(report: Uint8Array): HidReportEvent[] {
    const r = Buffer.from(report.buffer, report.byteOffset, report.byteLength);
    if (r.length < 3 || r[0] !== 0x02) return []; // another report (attributes, status): not scanned data
    const declared = r[1] as number;
    const start = r[2] === 0x5d ? 5 : 2;
    // Never trust the length byte past the report's end (the last byte is the flags byte).
    const n = Math.max(0, Math.min(declared, r.length - 1 - start));
    const more = r.length > start + n && ((r[r.length - 1] as number) & 0x01) === 1;
    if (!this.overflow) {
      const room = this.maxCodeBytes - this.size;
      this.parts.push(Buffer.from(r.subarray(start, start + Math.min(n, room))));
      if (n > room) this.overflow = true;
    }
    this.size += n;
    if (more) return [];
    const total = this.size;
    const out: HidReportEvent[] = this.overflow
      ? [{ kind: "too-long", head: Buffer.concat(this.parts), bytes: total }]
      : total === 0
        ? []
        : [{ kind: "code", bytes: stripSuffix(Buffer.concat(this.parts)) }];
    this.reset();
    return out;
  }
}

const SHIFT = 0x02 | 0x20;
/** Alt, Ctrl and GUI keys: a key with one of these is not text. */
const NON_TEXT_MODIFIERS = 0x01 | 0x04 | 0x08 | 0x10 | 0x40 | 0x80;

/** US layout: usage -> [unshifted, shifted]. */
const US_KEYS = new Map<number, readonly [string, string]>();
for (let i = 0; i < 26; i++) US_KEYS.set(0x04 + i, [String.fromCharCode(0x61 + i), String.fromCharCode(0x41 + i)]);
"1234567890".split("").forEach((d, i) => US_KEYS.set(0x1e + i, [d, "!@#$%^&*()"[i] as string]));
for (const [usage, plain, shifted] of [
  [0x2c, " ", " "],
  [0x2d, "-", "_"],
  [0x2e, "=", "+"],
  [0x2f, "[", "{"],
  [0x30, "]", "}"],
  [0x31, "\\", "|"],
  [0x33, ";", ":"],
  [0x34, "'", '"'],
  [0x35, "`", "~"],
  [0x36, ",", "<"],
  [0x37, ".", ">"],
  [0x38, "/", "?"],
  [0x2b, "\t", "\t"],
  [0x54, "/", "/"],
  [0x55, "*", "*"],
  [0x56, "-", "-"],
  [0x57, "+", "+"],
  [0x63, ".", "."],
] as const) {
  US_KEYS.set(usage, [plain, shifted]);
}
"1234567890".split("").forEach((d, i) => US_KEYS.set(0x59 + i, [d, d])); // keypad 1…9, 0
const ENTER = new Set([0x28, 0x58]);

/**
 * Boot keyboard reports `[modifiers][reserved][key1…key6]` (8 bytes; a 9-byte report carries a report ID first). A
 * key types when it appears in a report without having been in the previous one; Enter ends the code.
 */
export class KeyboardReportParser implements HidReportParser {
  private held = new Set<number>();
  private text = "";
  private lost = 0;
  private typed = 0;
  private overflow = false;

  constructor(private readonly maxCodeBytes: number) {}

  get pending(): boolean {
    return this.text.length > 0 || this.overflow;
  }

  reset(): void {
    this.text = "";
    this.lost = 0;
    this.typed = 0;
    this.overflow = false;
  }

  push(report: Uint8Array): HidReportEvent[] {
    const r = report.length === 9 ? report.subarray(1) : report;
    if (r.length < 3) return [];
    const mods = r[0] as number;
    const keys = Array.from(r.subarray(2)).filter((k) => k !== 0);
    if (keys.includes(0x01)) return []; // phantom state (rollover error): holds no information
    const events: HidReportEvent[] = [];
    const now = new Set(keys);
    for (const k of keys) {
      if (this.held.has(k)) continue;
      if (ENTER.has(k)) {
        events.push(...this.finish());
        continue;
      }
      const chars = US_KEYS.get(k);
      if (chars === undefined || (mods & NON_TEXT_MODIFIERS) !== 0) {
        this.lost++;
        continue;
      }
      this.typed++;
      if (this.text.length >= this.maxCodeBytes) {
        this.overflow = true;
        continue;
      }
      this.text += (mods & SHIFT) !== 0 ? chars[1] : chars[0];
    }
    this.held = now;
    return events;
  }

  private finish(): HidReportEvent[] {
    const out: HidReportEvent[] = [];
    if (this.lost > 0) out.push({ kind: "lost-keys", count: this.lost });
    if (this.overflow) out.push({ kind: "too-long", head: Buffer.from(this.text, "ascii"), bytes: this.typed });
    else if (this.text.length > 0) out.push({ kind: "code", bytes: Buffer.from(this.text, "ascii") });
    this.reset();
    return out;
  }
}

/** Keyboard usages and Shift for typing `text` on a US layout: the inverse of the parser, for recordings and tests. */
export function usKeystrokes(text: string): Array<{ usage: number; shift: boolean }> {
  const out: Array<{ usage: number; shift: boolean }> = [];
  for (const ch of text) {
    let found: { usage: number; shift: boolean } | null = null;
    for (const [usage, [plain, shifted]] of US_KEYS) {
      if (usage >= 0x54) continue; // prefer the main block over the keypad
      if (plain === ch) found = { usage, shift: false };
      else if (shifted === ch && plain !== ch) found = { usage, shift: true };
      if (found !== null) break;
    }
    if (found === null) throw new Error(`'${ch}' cannot be typed on a US keyboard`);
    out.push(found);
  }
  return out;
}
