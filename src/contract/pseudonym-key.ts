/**
 * The site's pseudonym key as people write it: in the gate's config (`pseudonymize.key`) and in the file given to
 * `qrgate trace --key-file`. Both read it through these functions, so a key pasted with a trailing newline or a
 * BOM hashes the same on the gate and at the centre.
 */

/** Fewest bytes of key material a site key must carry (the output size of HMAC-SHA256's hash). */
export const MIN_PSEUDONYM_KEY_BYTES = 32;

const HEX = /^[0-9a-fA-F]+$/;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** The key as it is used: surrounding whitespace, line ends and a BOM removed, nothing else changed. */
export function trimPseudonymKey(text: string): string {
  // String.prototype.trim removes U+FEFF too.
  return text.trim();
}

/**
 * What is wrong with a (trimmed) key, or null: it must be hex or base64 text carrying at least
 * `MIN_PSEUDONYM_KEY_BYTES` bytes (64 hex digits, or 43 base64 characters). The HMAC is keyed with the text itself,
 * as the contract has always said, so a key that passes hashes exactly as before.
 */
export function pseudonymKeyProblem(key: string): string | null {
  if (HEX.test(key) && key.length % 2 === 0) {
    const bytes = key.length / 2;
    return bytes >= MIN_PSEUDONYM_KEY_BYTES
      ? null
      : `must carry at least ${MIN_PSEUDONYM_KEY_BYTES} bytes of key material; this hex key has ${bytes} (make one with: openssl rand -hex 32)`;
  }
  if (BASE64.test(key)) {
    const bytes = Math.floor((key.replace(/=+$/, "").length * 3) / 4);
    return bytes >= MIN_PSEUDONYM_KEY_BYTES
      ? null
      : `must carry at least ${MIN_PSEUDONYM_KEY_BYTES} bytes of key material; this base64 key has ${bytes} (make one with: openssl rand -hex 32)`;
  }
  return "must be hex or base64 text of at least 32 random bytes (make one with: openssl rand -hex 32)";
}
