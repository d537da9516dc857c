import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decide, type DecisionInput } from "../../src/core/decide.js";
import type { IssuerKeySet } from "../../src/core/issuer-keys.js";
import { DEFAULT_POLICY, type CardPolicy } from "../../src/core/policy.js";
import type { StatusRow } from "../../src/core/status-row.js";
import { signPass } from "../../src/issuer/pass-signer.js";
import { CARD, ROW } from "../support/gate-harness.js";

const NOW_S = Math.floor(Date.UTC(2026, 10, 24, 12) / 1000);
const STAFF = "001099004567";
const GUEST = "001099012345";
const ed = generateKeyPairSync("ed25519");
const KEYS: IssuerKeySet = new Map([["ed", { kid: "ed", alg: "EdDSA" as const, key: ed.publicKey }]]);
const ROWS = new Map<string, StatusRow>([
  // Staff with no doses: only the staff flag lets them in.
  [STAFF, ROW(STAFF, { doses: 0, dob: "1990-01-01", flags: ["staff"] })],
  [GUEST, ROW(GUEST, { doses: 2, dob: "1990-01-01" })],
]);

function decideFor(code: string, cards: CardPolicy) {
  const input: DecisionInput = {
    bytes: Buffer.from(code, "utf8"),
    nowMs: NOW_S * 1000,
    mode: "normal",
    policy: { ...DEFAULT_POLICY, cards },
    keys: KEYS,
    skewS: 30,
    replay: { has: () => false },
    lookup: (id) => ROWS.get(id),
  };
  const d = decide(input);
  return [d.decision, d.reason];
}
const pass = (sub: string) => signPass({ privateKey: ed.privateKey, kid: "ed", alg: "EdDSA", sub, ttlS: 300, nowS: NOW_S, jti: `j-${sub}` });

describe("policy.cards: what the unsigned chip card may do", () => {
  it.each<[string, string, CardPolicy, [string, string]]>([
    ["all: a staff card admits through the staff flag (today's behaviour)", CARD(STAFF), "all", ["allow", "staff"]],
    ["all: a vaccinated guest's card admits", CARD(GUEST), "all", ["allow", "ok"]],
    ["no-staff: a staff card no longer admits through the flag", CARD(STAFF), "no-staff", ["deny", "insufficient_vaccination"]],
    ["no-staff: a vaccinated guest's card still admits", CARD(GUEST), "no-staff", ["allow", "ok"]],
    ["no-staff: a staff member's signed pass still admits as staff", pass(STAFF), "no-staff", ["allow", "staff"]],
    ["none: any card is refused", CARD(GUEST), "none", ["deny", "card_not_accepted"]],
    ["none: a staff card is refused", CARD(STAFF), "none", ["deny", "card_not_accepted"]],
    ["none: a signed pass admits", pass(GUEST), "none", ["allow", "ok"]],
    ["none: a malformed card is still bad_format", "001099|x", "none", ["deny", "bad_format"]],
  ])("%s", (_what, code, cards, expected) => {
    expect(decideFor(code, cards)).toEqual(expected);
  });
});
