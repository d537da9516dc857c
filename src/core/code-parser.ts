/**
 * The parser registry: scanned bytes -> which kind of code -> the parser for it (docs/contract.md §3).
 *
 * Pure; never throws on bad input. `classifyCode` does what every code needs (strict UTF-8, scanner noise stripped,
 * QR size limit, no control characters) and routes by prefix; `parseCode` then runs the parser. A new kind of code
 * (docs/contract.md §3.3: the EU DCC `HC1:`, a signed provisioning QR) is one more line in `PREFIXED_CODES`.
 */
import { parseCccd } from "./cccd.js";
import { codePointLabel, findControl } from "./code-text.js";
import type { Credential, CredentialKind, Rejection } from "./credential.js";
import { verifyPass, type PassContext } from "./pass.js";
import { err, ok, type Result } from "./result.js";

/** What parsing any code may need: the pass verifier's keys, time, skew and replay set. */
export type ParseContext = PassContext;

/** A parser for one kind of code, given the cleaned text (prefix included). */
export type CodeParse = (text: string, ctx: ParseContext) => Result<Credential, Rejection>;

/** One line of the registry: a prefix and either its parser or why it is refused. */
export type PrefixedCode =
  | { readonly prefix: string; readonly kind: CredentialKind; readonly parse: CodeParse }
  | { readonly prefix: string; readonly kind: "unknown"; readonly unsupported: string };

/** Prefixed codes, tried in order (case-sensitive, as QR alphanumeric mode is upper case). */
export const PREFIXED_CODES: readonly PrefixedCode[] = [
  { prefix: "QG1:", kind: "pass", parse: verifyPass },
  { prefix: "HC1:", kind: "unknown", unsupported: "EU DCC (HC1:) is not supported yet" },
];

/** The CCCD card has no prefix: it is recognised by its `|` field separators, after every prefix failed to match. */
const CCCD_SEPARATOR = "|";
const parseCard: CodeParse = (text) => parseCccd(text);

/** The most bytes a QR code holds (version 40, error correction L, byte mode). */
export const MAX_CODE_BYTES = 2953;

/** A code recognised as a kind the gate reads, with its cleaned text and the parser to run. */
export interface ClassifiedCode {
  readonly kind: CredentialKind;
  /** Decoded as UTF-8, leading BOM and trailing CR/LF/NUL removed. */
  readonly text: string;
  readonly parse: CodeParse;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

const unknown = (detail: string): { readonly ok: false; readonly error: Rejection } =>
  err({ kind: "unknown", reason: "bad_format", detail });

/** Removes a leading UTF-8 BOM and trailing CR, LF and NUL bytes, without copying. */
function trimBytes(bytes: Uint8Array): Uint8Array {
  let start = 0;
  let end = bytes.length;
  if (end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  while (end > start) {
    const b = bytes[end - 1];
    if (b !== 0x0d && b !== 0x0a && b !== 0x00) break;
    end--;
  }
  return start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
}

/**
 * Decodes and cleans the scanned bytes and decides which parser reads them. Refusals here are `bad_format` with kind
 * `unknown`: not valid UTF-8, empty, longer than a QR code holds, control characters, an unsupported or unknown code.
 */
export function classifyCode(bytes: Uint8Array): Result<ClassifiedCode, Rejection> {
  const trimmed = trimBytes(bytes);
  if (trimmed.length > MAX_CODE_BYTES) {
    return unknown(`code is ${trimmed.length} bytes; a QR code holds at most ${MAX_CODE_BYTES}`);
  }
  if (trimmed.length === 0) return unknown("empty code");
  let text: string;
  try {
    text = UTF8.decode(trimmed);
  } catch {
    return unknown("not valid UTF-8");
  }
  const ctl = findControl(text);
  if (ctl >= 0) return unknown(`control character ${codePointLabel(text.charCodeAt(ctl))} at offset ${ctl}`);

  for (const code of PREFIXED_CODES) {
    if (text.startsWith(code.prefix)) {
      return code.kind === "unknown" ? unknown(code.unsupported) : ok({ kind: code.kind, text, parse: code.parse });
    }
  }
  if (text.includes(CCCD_SEPARATOR)) return ok({ kind: "cccd", text, parse: parseCard });
  return unknown("not a CCCD card code or a qrgate pass");
}

/** Classifies the scanned bytes and parses (for a pass: verifies) the credential. */
export function parseCode(bytes: Uint8Array, ctx: ParseContext): Result<Credential, Rejection> {
  const classified = classifyCode(bytes);
  if (!classified.ok) return classified;
  return classified.value.parse(classified.value.text, ctx);
}
