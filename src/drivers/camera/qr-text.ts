/** What one decoded QR code carries, as the gate will see it. */
export interface DecodedText {
  /** UTF-8 bytes handed to the gate. */
  readonly bytes: Buffer;
  readonly text: string;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Picks the text of a decoded QR code. The raw byte-mode content wins whenever it is valid UTF-8, ECI or not:
 * that is how Vietnamese ID cards and every phone app write their codes, and a decoder's charset guess (or a
 * generator's wrong ECI label) turns those names into Shift-JIS or Latin-1 mojibake. Only bytes that are not
 * UTF-8 at all (a real Shift-JIS or Latin-1 code) keep the decoder's own conversion.
 */
export function pickText(raw: Uint8Array, decoderText: string): DecodedText {
  try {
    const text = strictUtf8.decode(raw);
    return { bytes: Buffer.from(raw), text };
  } catch {
    return { bytes: Buffer.from(decoderText, "utf8"), text: decoderText };
  }
}
