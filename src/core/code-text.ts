/** Small text helpers shared by the code parsers: pure, allocation-free where it matters (they run per scan). */

/** Strips a leading U+FEFF and any trailing CR, LF and NUL that scanners add. */
export function stripScannerNoise(text: string): string {
  let start = 0;
  let end = text.length;
  if (end > 0 && text.charCodeAt(0) === 0xfeff) start = 1;
  while (end > start) {
    const c = text.charCodeAt(end - 1);
    if (c !== 0x0d && c !== 0x0a && c !== 0x00) break;
    end--;
  }
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** True for C0 controls, DEL and C1 controls. */
export function isControlCode(c: number): boolean {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

/** Index of the first control character in `s`, or -1. */
export function findControl(s: string): number {
  for (let i = 0; i < s.length; i++) {
    if (isControlCode(s.charCodeAt(i))) return i;
  }
  return -1;
}

/** `U+0007` */
export function codePointLabel(c: number): string {
  return "U+" + c.toString(16).toUpperCase().padStart(4, "0");
}

/** True when `s` is non-empty and made only of ASCII digits. */
export function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

