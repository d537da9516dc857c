import type { DenyReason } from "./reason.js";

/** What a scanned code turned out to be; `unknown` when no parser recognised it. */
export type CredentialKind = "cccd" | "pass";

/** The QR printed on a chip ID card (docs/contract.md §3.1). Dates are ISO `YYYY-MM-DD`. */
export interface CardCredential {
  readonly kind: "cccd";
  /** The 12-digit citizen ID. */
  readonly id: string;
  /** The old 9- or 12-digit CMND, or null when the card leaves it empty or omits it. */
  readonly oldId: string | null;
  readonly name: string;
  readonly dob: string;
  readonly sex: "M" | "F";
  readonly address: string;
  readonly issuedOn: string;
}

/** A verified phone pass (docs/contract.md §3.2). Times are Unix seconds. */
export interface PassCredential {
  readonly kind: "pass";
  /** The 12-digit citizen ID the pass was issued to. */
  readonly sub: string;
  readonly iat: number;
  readonly exp: number;
  readonly jti: string;
  /** The issuer key that signed it. */
  readonly kid: string;
  readonly name?: string;
}

export type Credential = CardCredential | PassCredential;

/** Why a code was refused before any status lookup, with a human-readable detail naming what is wrong. */
export interface Rejection {
  readonly kind: CredentialKind | "unknown";
  readonly reason: DenyReason;
  readonly detail: string;
  /**
   * The subject of an authentic code refused for its time or reuse (an expired or replayed pass whose signature
   * verified), so the journal records who tried; absent when nothing about the code can be trusted.
   */
  readonly subject?: string;
}
