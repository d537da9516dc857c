import type { KeyObject } from "node:crypto";

/** Signature algorithms a pass may use (docs/contract.md §3.2). */
export type PassAlgorithm = "EdDSA" | "ES256";

/** One issuer public key, with the single algorithm it is allowed to verify. */
export interface IssuerKey {
  readonly kid: string;
  readonly alg: PassAlgorithm;
  readonly key: KeyObject;
}

/** The cached issuer key set, by `kid`. */
export type IssuerKeySet = ReadonlyMap<string, IssuerKey>;

/** The set of pass `jti`s already used on this device (persisted by the store). */
export interface ReplaySet {
  has(jti: string): boolean;
}
