import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli, spawnCli } from "../support/cli.js";
import { heldCamera, makeFrames, type Frames } from "../support/camera-frames.js";
import { waitFor } from "../support/wait.js";

let frames: Frames;
beforeAll(() => {
  frames = makeFrames();
});

describe("qrgate run with a camera", () => {
  it("is config only: the card held in front of the camera is journaled once and opens the door", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qrgate-camgate-"));
    const config = join(dir, "config.json");
    writeFileSync(
      config,
      JSON.stringify({
        scanner: { type: "camera", camera: { source: "command", command: heldCamera(frames.sharp, 3) } },
        relay: { type: "sim" },
        mqtt: { url: "mqtt://127.0.0.1:1" },
        store: { path: "gate.db" },
        log: { level: "info" },
      }),
    );
    writeFileSync(join(dir, "status.csv"), "001099012345,clear,2,2021-08-01,,1990-01-01,green,\n");
    expect(runCli(["status", "import", join(dir, "status.csv"), "--config", config]).status).toBe(0);

    const gate = spawnCli(["run", "--config", config]);
    try {
      await waitFor(() => gate.logs().some((l) => l.msg === "allowed"), "an allowed scan");
      // The camera command ends after 3 s of frames: the gate reports the camera lost and keeps running.
      await waitFor(() => gate.logs().some((l) => typeof l.msg === "string" && l.msg.includes("camera command 'ffmpeg' exited")), "the camera reported lost");
    } finally {
      gate.proc.kill("SIGTERM");
      await gate.exited();
    }
    const db = new Database(join(dir, "gate.db"), { readonly: true });
    const rows = db.prepare("SELECT decision, reason, kind, subject FROM entries").all();
    db.close();
    expect(rows).toEqual([{ decision: "allow", reason: "ok", kind: "cccd", subject: "001099012345" }]);
    expect(gate.logs().filter((l) => l.msg === "allowed")).toHaveLength(1);
    expect(gate.logs().filter((l) => l.msg === "relay on")).toHaveLength(1);
  });
});
