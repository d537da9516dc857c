/**
 * What `npm start` with no configuration sets up on first run, so a newcomer has a working gate to try:
 * a pass issuer key under ./data/, a small status table, and codes to paste with what each should do.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import type { StatusRow } from "../core/status-row.js";
import { generateIssuerKeyPair, JWKS_FILE_NAME, privateKeyFileName, readPrivateKeyFile, writeIssuerKeyFiles } from "../issuer/key-files.js";
import { signPass } from "../issuer/pass-signer.js";
import type { StatusTable } from "../store/status-table.js";

const DEMO_KID = "demo-issuer";

export interface DemoCode {
  readonly label: string;
  readonly text: string;
  readonly expect: string;
}

/** Demo citizens. IDs and names are invented; the card texts follow docs/contract.md §3.1. */
const ROWS: StatusRow[] = [
  { id: "001099012345", status: "clear", doses: 2, lastDose: "2021-09-01", recoveredOn: null, dob: "1990-01-01", zone: "green", flags: [] },
  { id: "079188001234", status: "f0", doses: 2, lastDose: "2021-08-20", recoveredOn: null, dob: "1988-03-12", zone: "yellow", flags: [] },
  { id: "001099004567", status: "clear", doses: 3, lastDose: "2022-01-10", recoveredOn: null, dob: "1999-12-30", zone: "green", flags: ["staff"] },
];

const CARD_ALLOWED = "001099012345|123456789|Nguyễn Văn An|01011990|Nam|Số 1 Phố Huế, Hai Bà Trưng, Hà Nội|15062021";
const CARD_F0 = "079188001234||Trần Thị Bình|12031988|Nữ|12 Lê Lợi, Bến Nghé, Quận 1, TP. Hồ Chí Minh|20052021";
const CARD_UNKNOWN = "094083123451|Nguyễn Gia Mạnh|21/03/1983|Nam|Thôn 3, Xã Tân Hòa, Huyện Buôn Đôn, Đắk Lắk|06/04/2021";

/** Where the demo issuer's public key set lives for a store at `storePath`. */
export function demoJwksPath(storePath: string): string {
  return join(dirname(storePath), JWKS_FILE_NAME);
}

/** Creates the demo issuer key (once) beside the store; returns the key set path for `passes.issuerKeys`. */
export async function ensureDemoIssuer(storePath: string): Promise<string> {
  const dir = dirname(storePath);
  if (!existsSync(join(dir, privateKeyFileName(DEMO_KID)))) {
    await writeIssuerKeyFiles(dir, generateIssuerKeyPair("EdDSA", DEMO_KID));
  }
  return demoJwksPath(storePath);
}

/** Seeds the demo status table when the store has none yet. */
export function seedDemoStatus(table: StatusTable, nowMs: number): boolean {
  if (table.meta().version > 0) return false;
  const stage = table.beginReplace();
  stage.addBatch(ROWS);
  stage.commit(nowMs);
  return true;
}

/** The codes to paste, with a pass signed now (valid ten minutes, good for one entry). */
export async function demoCodes(storePath: string, nowMs: number): Promise<DemoCode[]> {
  const key = await readPrivateKeyFile(join(dirname(storePath), privateKeyFileName(DEMO_KID)));
  const pass = signPass({ privateKey: key.privateKey, kid: key.kid, alg: key.alg, sub: "001099004567", ttlS: 600, nowS: Math.floor(nowMs / 1000) });
  return [
    { label: "chip card, vaccinated", text: CARD_ALLOWED, expect: "allow (ok)" },
    { label: "chip card, F0 case", text: CARD_F0, expect: "deny (infected)" },
    { label: "chip card, not in the status table", text: CARD_UNKNOWN, expect: "deny (unknown_subject)" },
    { label: "signed phone pass, staff (valid 10 min, one entry)", text: pass, expect: "allow (staff); pasted again later: deny (replayed)" },
  ];
}
