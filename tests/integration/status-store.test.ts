import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseStatusLine } from "../../src/core/status-csv.js";
import { openDatabase, schemaVersion } from "../../src/store/database.js";
import { MIGRATIONS } from "../../src/store/migrations.js";
import { Settings } from "../../src/store/settings.js";
import { importStatusCsv } from "../../src/store/status-import.js";
import { StatusTable } from "../../src/store/status-table.js";
import { TrustedClock } from "../../src/store/trusted-clock.js";
import { FakeClock } from "../fakes/fake-clock.js";
import { runCli } from "../support/cli.js";
import { ROW } from "../support/gate-harness.js";

const tmp = () => mkdtempSync(join(tmpdir(), "qrgate-store-"));
const HEADER = "id,status,doses,last_dose,recovered_on,dob,zone,flags";

function csv(dir: string, lines: string[]): string {
  const p = join(dir, `s${Math.random().toString(36).slice(2)}.csv`);
  writeFileSync(p, lines.join("\n") + "\n");
  return p;
}

describe("status CSV rows", () => {
  it.each([
    ["001099012345,clear,2,2021-09-01,,1990-01-01,green,staff;guard", { id: "001099012345", status: "clear", doses: 2, lastDose: "2021-09-01", recoveredOn: null, dob: "1990-01-01", zone: "green", flags: ["staff", "guard"] }],
    ['"001099012345","f0","0","","2022-02-02","","",""', { id: "001099012345", status: "f0", doses: 0, lastDose: null, recoveredOn: "2022-02-02", dob: null, zone: null, flags: [] }],
  ])("parses %s", (line, row) => {
    expect(parseStatusLine(line)).toEqual({ ok: true, value: row });
  });

  it.each([
    ["00109901234,clear,2,,,,,", "id: expected 12 digits, got 11 characters"],
    ["001099012345,sick,2,,,,,", 'status: expected one of clear f0 f1 blocked, got "sick"'],
    ["001099012345,clear,two,,,,,", 'doses: expected a whole number 0-99, got "two"'],
    ["001099012345,clear,2,2021-02-30,,,,", 'last_dose: expected a date YYYY-MM-DD or empty, got "2021-02-30"'],
    ["001099012345,clear,2,,,01/01/1990,,", 'dob: expected a date YYYY-MM-DD or empty, got "01/01/1990"'],
    ["001099012345,clear,2,,,,purple,", 'zone: expected one of green yellow orange red or empty, got "purple"'],
    ["001099012345,clear,2,,,,", "expected 8 columns (id,status,doses,last_dose,recovered_on,dob,zone,flags), got 7"],
    ['"001099012345,clear,2,,,,,', "unterminated quoted field"],
    ["001099012345,clear,2,,,,,Staff Member", 'flags: "Staff Member" is not a flag (a-z 0-9 _ -, \';\'-separated)'],
  ])("rejects %s: %s", (line, message) => {
    expect(parseStatusLine(line)).toEqual({ ok: false, error: message });
  });

  it("never throws on any line", () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
      const r = parseStatusLine(s);
      expect(typeof r.ok).toBe("boolean");
    }));
  });
});

describe("status table import", () => {
  it("replaces the table with the good rows and reports bad ones by line", async () => {
    const dir = tmp();
    const db = openDatabase(join(dir, "g.db"), { synchronous: "NORMAL" });
    const t = new StatusTable(db);
    await importStatusCsv(t, csv(dir, [HEADER, "001099000001,clear,2,,,,,", "001099000002,f0,2,,,,,"]), { strict: false, merge: false, nowMs: 1 });
    const r = await importStatusCsv(t, csv(dir, [HEADER, "001099000003,clear,2,,,,,", "bad,row", "001099000003,clear,2,,,,,", ""]), { strict: false, merge: false, nowMs: 2 });
    expect(r).toMatchObject({ imported: true, rows: 1, rejected: 1, repeats: 1, version: 2, totalRows: 1 });
    expect(r.errors).toEqual([{ line: 3, message: expect.stringMatching(/expected 8 columns/) as unknown }]);
    expect(t.lookup("001099000001")).toBeUndefined();
    expect(t.lookup("001099000003")?.status).toBe("clear");
    expect(t.meta()).toEqual({ version: 2, updatedMs: 2, rows: 1 });
  });

  it("imports nothing with --strict when any row is bad", async () => {
    const dir = tmp();
    const t = new StatusTable(openDatabase(join(dir, "g.db"), { synchronous: "NORMAL" }));
    await importStatusCsv(t, csv(dir, ["001099000001,clear,2,,,,,"]), { strict: false, merge: false, nowMs: 1 });
    const r = await importStatusCsv(t, csv(dir, ["001099000002,clear,2,,,,,", "001099000003,clear,2,,,,red-ish,"]), { strict: true, merge: false, nowMs: 2 });
    expect(r).toMatchObject({ imported: false, rows: 1, rejected: 1, version: 1 });
    expect(t.lookup("001099000001")).toBeDefined();
    expect(t.lookup("001099000002")).toBeUndefined();
  });

  it("merges into the table with --merge", async () => {
    const dir = tmp();
    const t = new StatusTable(openDatabase(join(dir, "g.db"), { synchronous: "NORMAL" }));
    await importStatusCsv(t, csv(dir, ["001099000001,clear,2,,,,,", "001099000002,clear,2,,,,,"]), { strict: false, merge: false, nowMs: 1 });
    const r = await importStatusCsv(t, csv(dir, ["001099000002,f0,2,,,,,", "001099000003,clear,1,,,,,"]), { strict: false, merge: true, nowMs: 2 });
    expect(r).toMatchObject({ imported: true, rows: 2, totalRows: 3, version: 2 });
    expect(t.lookup("001099000002")?.status).toBe("f0");
    expect(t.lookup("001099000001")?.status).toBe("clear");
  });

  describe.each([false, true])("an ID given twice with different contents (merge: %s)", (merge) => {
    it("refuses the whole file, lists every line of the ID, and leaves the table as it was", async () => {
      const dir = tmp();
      const t = new StatusTable(openDatabase(join(dir, "g.db"), { synchronous: "NORMAL" }));
      await importStatusCsv(t, csv(dir, ["001099012345,f0,2,,,,,", "001099000009,clear,2,,,,,"]), { strict: false, merge: false, nowMs: 1 });
      const file = csv(dir, [
        HEADER,
        "001099012345,clear,2,,,1990-01-01,,",
        "001099000001,clear,2,,,,,",
        "001099012345,f0,2,,,1990-01-01,,",
        "001099000002,f1,0,,,,,",
        "001099000002,f1,0,,,,,",
        "001099012345,clear,2,,,1990-01-01,,",
      ]);
      const r = await importStatusCsv(t, file, { strict: false, merge, nowMs: 2 });
      expect(r).toMatchObject({ imported: false, conflictingIds: 1, version: 1, totalRows: 2 });
      expect(r.conflicts).toEqual([{ lines: [2, 4, 7] }]);
      expect(t.lookup("001099012345")?.status).toBe("f0");
      expect(t.lookup("001099000001")).toBeUndefined();
      expect(t.meta()).toEqual({ version: 1, updatedMs: 1, rows: 2 });
    });

    it("refuses it through the CLI: exit 3, each conflicting line on stderr, table unchanged", () => {
      const dir = tmp();
      const config = join(dir, "config.json");
      writeFileSync(config, JSON.stringify({ store: { path: join(dir, "g.db") } }));
      const first = runCli(["status", "import", csv(dir, ["001099012345,f0,2,,,,,"]), "--config", config]);
      expect(first.status).toBe(0);
      const file = csv(dir, ["001099012345,clear,2,,,,,", "001099012345,f0,2,,,,,"]);
      const r = runCli(["status", "import", file, "--config", config, ...(merge ? ["--merge"] : [])]);
      expect(r.status).toBe(3);
      expect(r.stderr).toContain(`${file}:1: same id as line 2, with different contents`);
      expect(r.stderr).toContain(`${file}:2: same id as line 1, with different contents`);
      expect(r.stdout).toMatch(/^nothing imported \(1 ID given twice with different contents: the file contradicts itself\)/);
      const t = new StatusTable(openDatabase(join(dir, "g.db"), { synchronous: "NORMAL" }));
      expect([t.lookup("001099012345")?.status, t.meta().version]).toEqual(["f0", 1]);
    });
  });

  it("collapses a row repeated exactly, with a warning", () => {
    const dir = tmp();
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify({ store: { path: join(dir, "g.db") } }));
    const r = runCli(["status", "import", csv(dir, ["001099012345,f0,2,,,1990-01-01,,", "001099012345,f0,2,,,1990-01-01,,"]), "--config", config]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("warning: 1 rows repeat an earlier row exactly; each is kept once");
    expect(r.stdout).toContain("imported 1 rows, rejected 0");
  });

  it("warns with a count of rows without dob, and refuses them with --require-dob", () => {
    const dir = tmp();
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify({ store: { path: join(dir, "g.db") } }));
    const file = csv(dir, [HEADER, "001099000001,clear,2,,,,,", "001099000002,clear,2,,,1990-01-01,,", "001099000003,clear,2,,,,,"]);
    const loose = runCli(["status", "import", file, "--config", config]);
    expect(loose.status).toBe(0);
    expect(loose.stderr).toMatch(/warning: 2 rows have no dob/);
    const strict = runCli(["status", "import", file, "--config", config, "--require-dob"]);
    expect(strict.status).toBe(0);
    expect(strict.stderr).toContain(`${file}:2: dob: required (--require-dob), got nothing`);
    expect(strict.stderr).toContain(`${file}:4: dob: required (--require-dob), got nothing`);
    expect(strict.stdout).toContain("imported 1 rows, rejected 2");
    const t = new StatusTable(openDatabase(join(dir, "g.db"), { synchronous: "NORMAL" }));
    expect(t.lookup("001099000001")).toBeUndefined();
    expect(t.lookup("001099000002")).toBeDefined();
  });

  it("is seen at once by a gate that has the file open (an import while it runs)", () => {
    const path = join(tmp(), "g.db");
    const gate = new StatusTable(openDatabase(path, { synchronous: "FULL" }));
    const tool = new StatusTable(openDatabase(path, { synchronous: "NORMAL" }));
    for (const [i, status] of (["clear", "f0"] as const).entries()) {
      const stage = tool.beginReplace();
      stage.addBatch([ROW("001099000001", { status })]);
      stage.commit(i);
      expect([gate.lookup("001099000001")?.status, gate.meta().version]).toEqual([status, i + 1]);
    }
  });

  it("leaves the old table deciding when a load dies before its swap", () => {
    const dir = tmp();
    const path = join(dir, "g.db");
    const db = openDatabase(path, { synchronous: "FULL" });
    const t = new StatusTable(db);
    const s1 = t.beginReplace();
    s1.addBatch([ROW("001099000001")]);
    s1.commit(1);
    const s2 = t.beginReplace();
    s2.addBatch([ROW("001099000002")]);
    db.close(); // the process dies here: no commit
    const reopened = new StatusTable(openDatabase(path, { synchronous: "FULL" }));
    expect(reopened.lookup("001099000001")).toBeDefined();
    expect(reopened.lookup("001099000002")).toBeUndefined();
    expect(reopened.meta().version).toBe(1);
  });
});

describe("store file", () => {
  it("migrates a new file to the latest schema, in WAL mode", () => {
    const db = openDatabase(join(tmp(), "g.db"), { synchronous: "FULL" });
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("synchronous", { simple: true })).toBe(2); // FULL
  });

  it("refuses a file from a newer qrgate", () => {
    const path = join(tmp(), "g.db");
    openDatabase(path, { synchronous: "FULL" }).pragma(`user_version = ${MIGRATIONS.length + 1}`);
    expect(() => openDatabase(path, { synchronous: "FULL" })).toThrow(/newer than this qrgate understands/);
  });
});

describe("trusted wall clock", () => {
  it("never runs backwards past the last trusted time, across a restart", () => {
    const path = join(tmp(), "g.db");
    const base = new FakeClock(Date.UTC(2026, 10, 24));
    const settings = new Settings(openDatabase(path, { synchronous: "FULL" }));
    const clock = new TrustedClock(base, settings);
    clock.persist();
    const trusted = clock.wallMs();
    // Reboot with no RTC: the system says 1970.
    base.setWall(0);
    const after = new TrustedClock(base, new Settings(openDatabase(path, { synchronous: "FULL" })));
    expect(after.wallMs()).toBe(trusted);
    base.advance(5000);
    expect(after.wallMs()).toBe(trusted + 5000);
    // NTP answers with the real time, which is later: it is taken as is.
    base.setWall(trusted + 60_000);
    expect(after.wallMs()).toBe(trusted + 60_000);
  });
});
