import type { Credential, CredentialKind } from "./credential.js";
import type { IssuerKeySet, ReplaySet } from "./issuer-keys.js";
import { parseCode } from "./code-parser.js";
import { evaluatePolicy, type Policy } from "./policy.js";
import type { Reason } from "./reason.js";
import type { StatusRow } from "./status-row.js";

/** Normal operation, or every code refused (an admin's `lockdown` command). */
export type GateMode = "normal" | "lockdown";

export interface DecisionInput {
  /** The raw bytes the scanner delivered, suffix removed. */
  readonly bytes: Uint8Array;
  /**
   * The whole length of the line when the scanner cut it to `bytes` at its limit: such a code is refused
   * `bad_format`, never decided on its first part. Absent (or equal to `bytes.length`) for a whole code.
   */
  readonly totalBytes?: number;
  /** Trusted wall time, ms since the epoch: pass validity and recovery windows only. */
  readonly nowMs: number;
  readonly mode: GateMode;
  readonly policy: Policy;
  readonly keys: IssuerKeySet;
  readonly skewS: number;
  readonly replay: ReplaySet;
  /** The status table; a synchronous lookup by 12-digit ID. */
  readonly lookup: (id: string) => StatusRow | undefined;
}

export interface Decision {
  readonly decision: "allow" | "deny";
  readonly reason: Reason;
  /** What exactly was wrong, for the journal and the technician; null when nothing was. */
  readonly detail: string | null;
  readonly kind: CredentialKind | "unknown";
  /** The clear 12-digit ID, or null when the code did not yield a trustworthy one. */
  readonly subject: string | null;
  /** A pass that let someone in: its jti must be recorded as used until `expS` (+ skew). */
  readonly usedPass: { readonly jti: string; readonly expS: number } | null;
  /**
   * The name the credential carried (the card's, or a pass's optional `name`), for the screen at the door only:
   * never journaled, published or logged. Absent when the code did not parse or carried none.
   */
  readonly name?: string;
}

function subjectOf(c: Credential): string {
  return c.kind === "cccd" ? c.id : c.sub;
}

/** The whole decision for one code: parse, verify, look up, apply policy. Pure: no I/O, no clock. */
export function decide(input: DecisionInput): Decision {
  if (input.totalBytes !== undefined && input.totalBytes > input.bytes.length) {
    const detail = `code is ${input.totalBytes} bytes, over the scanner's limit of ${input.bytes.length} (scanner.maxCodeBytes): refused whole`;
    return { decision: "deny", reason: "bad_format", detail, kind: "unknown", subject: null, usedPass: null };
  }
  const parsed = parseCode(input.bytes, {
    keys: input.keys,
    nowS: Math.floor(input.nowMs / 1000),
    skewS: input.skewS,
    replay: input.replay,
  });
  if (!parsed.ok) {
    const { kind, reason, detail, subject } = parsed.error;
    return { decision: "deny", reason, detail, kind, subject: subject ?? null, usedPass: null };
  }
  const credential = parsed.value;
  const subject = subjectOf(credential);
  const base = {
    kind: credential.kind,
    subject,
    ...(credential.name !== undefined && credential.name.length > 0 ? { name: credential.name } : {}),
  } as const;
  if (input.mode === "lockdown") {
    return { ...base, decision: "deny", reason: "lockdown", detail: "gate is in lockdown", usedPass: null };
  }
  if (credential.kind === "cccd" && input.policy.cards === "none") {
    return {
      ...base,
      decision: "deny",
      reason: "card_not_accepted",
      detail: "this site accepts signed passes only (policy.cards: none)",
      usedPass: null,
    };
  }
  const row = input.lookup(subject);
  if (credential.kind === "cccd" && row !== undefined && row.dob !== null && row.dob !== credential.dob) {
    return {
      ...base,
      decision: "deny",
      reason: "identity_mismatch",
      detail: "date of birth on the card differs from the status table",
      usedPass: null,
    };
  }
  const staffAdmits = credential.kind !== "cccd" || input.policy.cards === "all";
  const verdict = evaluatePolicy(row, input.policy, input.nowMs, staffAdmits);
  const usedPass =
    verdict.decision === "allow" && credential.kind === "pass" ? { jti: credential.jti, expS: credential.exp } : null;
  return { ...base, ...verdict, detail: null, usedPass };
}
