#!/usr/bin/env node
// Writes a synthetic status CSV of N rows (default 1,000,000) to stdout, for trying `qrgate status import`
// on a table the size of a province before a real export is at hand. IDs are 12 digits and invented.
const n = Number(process.argv[2] ?? 1_000_000);
if (!Number.isSafeInteger(n) || n < 1) {
  process.stderr.write("usage: make-status-csv.mjs [ROWS] > status.csv\n");
  process.exit(2);
}
const statuses = ["clear", "clear", "clear", "clear", "clear", "clear", "f0", "f1", "blocked", "clear"];
const zones = ["green", "green", "yellow", "orange", "red", ""];
const out = ["id,status,doses,last_dose,recovered_on,dob,zone,flags"];
const flush = () => {
  process.stdout.write(out.join("\n") + "\n");
  out.length = 0;
};
for (let i = 0; i < n; i++) {
  const id = `0010${String(i).padStart(8, "0")}`;
  const dob = `19${50 + (i % 50)}-${String(1 + (i % 12)).padStart(2, "0")}-${String(1 + (i % 28)).padStart(2, "0")}`;
  out.push(`${id},${statuses[i % 10]},${i % 4},${i % 4 ? "2021-09-01" : ""},${i % 13 === 0 ? "2026-08-01" : ""},${dob},${zones[i % 6]},${i % 50 === 0 ? "staff" : ""}`);
  if (out.length >= 10_000) flush();
}
flush();
