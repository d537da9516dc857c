/**
 * What reaches the gate from outside, through the real process (`qrgate run` with a config and standard input as
 * the scanner): over-long codes, the broker link and the clock.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";

const tmp = () => mkdtempSync(join(tmpdir(), "qrgate-inputs-"));
/** A staff member's 2024 card; its last field is padded, so a cut anywhere in it still leaves a readable card. */
const LONG_CARD = "001099004567||Lương Văn Nam|30121999|Nam|Vĩnh Tường, Vĩnh Phúc|01082024||||" + "X".repeat(300);
const STATUS = "001099004567,clear,3,2022-01-10,,1999-12-30,green,staff\n";

/** Writes a config and a status table into a new folder; returns the config path and the folder. */
function gateDir(config: Record<string, unknown>): { dir: string; configPath: string } {
  const dir = tmp();
  const configPath = join(dir, "config.json");
  writeFileSync(configPath, JSON.stringify({ store: { path: "g.db" }, mqtt: { url: "mqtt://127.0.0.1:1" }, ...config }));
  writeFileSync(join(dir, "status.csv"), STATUS);
  expect(runCli(["status", "import", join(dir, "status.csv"), "--config", configPath]).status).toBe(0);
  return { dir, configPath };
}

function journal(dir: string): Array<{ decision: string; reason: string; detail: string | null }> {
  const db = new Database(join(dir, "g.db"), { readonly: true });
  try {
    return db.prepare("SELECT decision, reason, detail FROM entries ORDER BY seq").all() as Array<{ decision: string; reason: string; detail: string | null }>;
  } finally {
    db.close();
  }
}

describe("a code longer than scanner.maxCodeBytes", () => {
  it.each([256, 1000, 2953])("is refused whole as bad_format with maxCodeBytes %i, never decided on its first part", (max) => {
    const code = LONG_CARD + "Y".repeat(Math.max(0, max - LONG_CARD.length + 10));
    const { dir, configPath } = gateDir({ scanner: { type: "stdin", maxCodeBytes: max } });
    const r = runCli(["run", "--config", configPath], { input: `${code}\n${LONG_CARD.slice(0, 200)}\n` });
    expect(r.status).toBe(0);
    const rows = journal(dir);
    expect(rows[0]).toMatchObject({ decision: "deny", reason: "bad_format" });
    expect(rows[0]?.detail).toMatch(new RegExp(`^code is ${Buffer.byteLength(code)} bytes, over the scanner's limit of ${max} \\(scanner.maxCodeBytes\\)`));
    // A card that fits is still read (the 11-field card with its last field cut short by the sender, not the gate).
    expect(rows[1]).toMatchObject({ decision: "allow", reason: "staff" });
  });
});

describe("the who tag in the running gate's log", () => {
  const card = "001099004567||Lương Văn Nam|30121999|Nam|Vĩnh Tường, Vĩnh Phúc|01082024||||";
  const whoOf = (stderr: string): unknown =>
    stderr
      .split("\n")
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      })
      .find((l) => l.msg === "allowed")?.who;

  it("is the same for one person across restarts of a gate, different on another gate, never a plain hash", () => {
    const a = gateDir({ scanner: { type: "stdin" } });
    const b = gateDir({ scanner: { type: "stdin" } });
    const run = (configPath: string) => whoOf(runCli(["run", "--config", configPath], { input: card + "\n" }).stderr);
    const first = run(a.configPath);
    expect(first).toMatch(/^[0-9a-f]{8}$/);
    expect(run(a.configPath)).toBe(first);
    expect(run(b.configPath)).not.toBe(first);
    expect(first).not.toBe(createHash("sha256").update("001099004567").digest("hex").slice(0, 8));
  });
});
