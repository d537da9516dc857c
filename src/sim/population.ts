/**
 * The simulated people's status rows and the codes they show, pure. A person's status follows from their ID alone
 * (a hash), so every gate's table and every scan agree without sharing anything: about 0.5 % are F0 (denied
 * `infected`), 0.5 % F1 (`quarantine`), 1 % lack a second dose (`insufficient_vaccination`), 1 % are staff.
 */
import type { StatusRow } from "../core/status-row.js";
import { personId, TRAVELLERS } from "./traffic.js";

/** A stable per-ID number in [0, 10000), from FNV-1a: status draws must not depend on the run's random source. */
function permille10(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % 10_000;
}

/** The status row of a person (docs/contract.md §4). */
export function statusRowOf(id: string): StatusRow {
  const r = permille10(id);
  const base: StatusRow = { id, status: "clear", doses: 2 + (r % 2), lastDose: "2021-09-01", recoveredOn: null, dob: "1990-01-01", zone: "green", flags: [] };
  if (r < 50) return { ...base, status: "f0" };
  if (r < 100) return { ...base, status: "f1" };
  if (r < 200) return { ...base, doses: 1 };
  if (r < 300) return { ...base, flags: ["staff"] };
  return base;
}

/** A site's local status table: its own people and the travellers (not the whole country's table). */
export function siteStatusRows(site: number, peoplePerSite: number): StatusRow[] {
  const rows: StatusRow[] = [];
  for (let n = 0; n < peoplePerSite; n++) rows.push(statusRowOf(personId(site, n)));
  for (let n = 0; n < TRAVELLERS; n++) rows.push(statusRowOf(personId(-1, n)));
  return rows;
}

const FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"];
const GIVEN = ["An", "Bình", "Chi", "Dũng", "Hà", "Hương", "Minh", "Thảo"];

/** The text of a chip ID card's QR for `id` (docs/contract.md §3.1, seven fields). */
export function cardText(id: string): string {
  const r = permille10(id);
  const name = `${FAMILY[r % FAMILY.length] ?? "Nguyễn"} Văn ${GIVEN[(r >> 3) % GIVEN.length] ?? "An"}`;
  return `${id}||${name}|01011990|${r % 2 === 0 ? "Nam" : "Nữ"}|Số ${1 + (r % 200)} Phố Huế, Hai Bà Trưng, Hà Nội|15062021`;
}
