/**
 * The real process under libfaketime (Debian `faketime`): the wall clock jumps under a running `qrgate run`, as a
 * `date -s 2040-01-01` or a bad NTP answer would make it; monotonic time is left real, as the kernel keeps it.
 */
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { runCli, spawnCli } from "../support/cli.js";
import { waitFor } from "../support/wait.js";

const LIBFAKETIME = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"].find((p) =>
  existsSync(p),
);
const CARD = (id: string, dob: string) => `${id}|123456789|Nguyễn Văn An|${dob}|Nam|Số 1 Phố Huế, Hai Bà Trưng, Hà Nội|15062021`;
const A = CARD("001099012345", "01011990");
const B = CARD("001099000222", "02021992");

describe.runIf(LIBFAKETIME !== undefined)("the real gate under faketime", () => {
  it("raises clock_jump with both times when the clock jumps 14 years, and keeps its journal when restarted at the right time", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qrgate-faketime-"));
    const configPath = join(dir, "config.json");
    writeFileSync(configPath, JSON.stringify({ scanner: { type: "stdin" }, store: { path: "g.db" }, mqtt: { url: "mqtt://127.0.0.1:1" } }));
    writeFileSync(join(dir, "s.csv"), "001099012345,clear,2,,,1990-01-01,,\n001099000222,clear,2,,,1992-02-02,,\n");
    expect(runCli(["status", "import", join(dir, "s.csv"), "--config", configPath]).status).toBe(0);

    const offset = join(dir, "faketime");
    writeFileSync(offset, "+0\n");
    const gate = spawnCli(["run", "--config", configPath], {
      env: {
        LD_PRELOAD: LIBFAKETIME,
        FAKETIME_TIMESTAMP_FILE: offset,
        FAKETIME_NO_CACHE: "1",
        FAKETIME_DONT_FAKE_MONOTONIC: "1",
      },
    });
    const decisions = () => gate.logs().filter((l) => l.msg === "allowed" || l.msg === "denied");
    await waitFor(() => gate.logs().some((l) => l.msg === "gate started"), "the gate to start");
    gate.proc.stdin?.write(A + "\n");
    await waitFor(() => decisions().length === 1, "the first decision");
    writeFileSync(offset, "+14y\n");
    gate.proc.stdin?.write(B + "\n");
    await waitFor(() => decisions().length === 2, "the decision after the jump");
    gate.proc.stdin?.end();
    expect(await gate.exited()).toBe(0);

    const jump = gate.logs().find((l) => l.event === "clock_jump");
    expect(jump?.msg).toMatch(/^system clock jumped forward by 14 years: from 20\d\d-\d\d-\d\dT[\d:.]+Z to 204\d-\d\d-\d\dT[\d:.]+Z; gate time now 204\d-/);
    expect(decisions().map((d) => d.reason)).toEqual(["ok", "ok"]);

    // Restarted at the real time: the floor left in 2040 is reported, and nothing is purged from the journal.
    const again = runCli(["run", "--config", configPath], { input: "" });
    expect(again.status).toBe(0);
    const startAlarm = again.stderr.split("\n").find((l) => l.includes('"clock_jump"'));
    expect(startAlarm).toMatch(/system clock 20\d\d-[\d\-T:.]+Z is 14 years behind the last trusted time 204\d-/);
    const db = new Database(join(dir, "g.db"), { readonly: true });
    const rows = db.prepare("SELECT ts_ms FROM entries ORDER BY seq").all() as Array<{ ts_ms: number }>;
    const events = db.prepare("SELECT payload FROM outbox WHERE topic LIKE '%/event'").all() as Array<{ payload: string }>;
    db.close();
    expect(rows).toHaveLength(2);
    expect(new Date(rows[1]!.ts_ms).getUTCFullYear()).toBeGreaterThanOrEqual(2040);
    // Both alarms wait in the outbox for the centre, with both times in their detail.
    // (In 2040 the status table is also stale: that alarm is right too.)
    const jumps = events.map((e) => JSON.parse(e.payload) as { event: string; detail: string }).filter((e) => e.event === "clock_jump");
    expect(jumps.map((e) => e.detail)).toEqual([jump?.msg, expect.stringMatching(/is 14 years behind the last trusted time/)]);
  });
});
