/** `npm start` with no configuration: the printed demo codes, pasted, give the printed outcomes. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { spawnCli } from "../support/cli.js";
import { waitFor } from "../support/wait.js";

describe("the embedded simulator", () => {
  const dir = mkdtempSync(join(tmpdir(), "qrgate-demo-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints demo codes whose outcomes match what it promised, then stops at end of input", async () => {
    const gate = spawnCli(["run"], { cwd: dir, env: { QRGATE_CONFIG: "" } });
    await waitFor(() => gate.stdout.some((l) => l.startsWith("Ctrl-C")), "the demo codes to be printed");
    expect(gate.stdout.join("\n")).toMatch(/no configuration found, so this is a demo gate/);

    const demos: Array<{ expect: string; code: string }> = [];
    gate.stdout.forEach((l, i) => {
      const m = / -> expect (\w+) \((\w+)\)/.exec(l);
      if (m !== null) demos.push({ expect: `${m[1]!.toUpperCase()} ${m[2]!}`, code: gate.stdout[i + 1]!.trim() });
    });
    expect(demos).toHaveLength(4);

    const outcomes = () => gate.stdout.filter((l) => /^(ALLOW|DENY)/.test(l)).map((l) => l.replace(/\s+/g, " ").split(" [")[0]);
    for (const [i, d] of demos.entries()) {
      gate.proc.stdin?.write(d.code + "\n");
      await waitFor(() => outcomes().length === i + 1, `the outcome of demo code ${i + 1}`);
    }
    // Another card, then the pass again (so dedup does not merge it with its first showing): replayed.
    gate.proc.stdin?.write(demos[0]!.code + "\n");
    gate.proc.stdin?.write(demos[3]!.code + "\n");
    await waitFor(() => outcomes().length === 6, "the outcome of the pass shown again");
    expect(outcomes()).toEqual([...demos.map((d) => d.expect), demos[0]!.expect, "DENY replayed"]);

    gate.proc.stdin?.end();
    expect(await gate.exited()).toBe(0);
    expect(gate.logs().filter((l) => l.module === "relay").at(-1)?.on).toBe(false);
  });
});
