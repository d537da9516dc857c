/** The centre's publishing verbs refuse bad arguments, files and brokers with one line and a documented status. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { makeCentreKey, type CentreKeys } from "../support/fleet-gate.js";
import { freePort } from "../support/mosquitto.js";

describe("status publish, keys publish and cmd: usage and unusable inputs", () => {
  const dir = mkdtempSync(join(tmpdir(), "qrgate-sync-cli-"));
  const csv = join(dir, "s.csv");
  writeFileSync(csv, "001099012345,clear,2,,,,,\n");
  let keys: CentreKeys;
  let deadUrl = "";
  beforeAll(async () => {
    keys = await makeCentreKey(join(dir, "centre"));
    deadUrl = `mqtt://127.0.0.1:${await freePort()}`;
  });

  it.each([
    [["status", "publish", csv, "--key", "k", "--site", "hq"], 2, /--url is required/],
    [["status", "publish", csv, "--url", "mqtt://x", "--key", "k", "--site", "All"], 2, /--site must be/],
    [["status", "publish", csv, "--url", "mqtt://x", "--key", "k", "--site", "hq", "--chunk-rows", "0"], 2, /--chunk-rows/],
    [["cmd", "--url", "mqtt://x", "--key", "k", "--site", "hq", "--device", "g", "open", "--ttl", "2d"], 2, /--ttl must be/],
    [["cmd", "--url", "mqtt://x", "--key", "k", "--site", "hq", "open"], 2, /exactly one of --device D and --all/],
    [["keys", "publish", "--url", "mqtt://x", "--key", "k"], 2, /needs the JWKS file/],
  ])("%j -> exit %i", (args, status, re) => {
    const r = runCli(args);
    expect(r.status).toBe(status);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(re);
  });

  it("a missing key file, a bad CSV, an unreachable broker: one line each", () => {
    const noKey = runCli(["status", "publish", csv, "--url", deadUrl, "--key", join(dir, "nope.jwk"), "--site", "hq"]);
    expect(noKey.status).toBe(1);
    expect(noKey.stderr).toMatch(/^qrgate: status publish: key .*nope\.jwk: cannot read \(ENOENT\)\n$/);
    writeFileSync(join(dir, "bad.csv"), "001099012345,clear,2,,,,,\n001099012345,f0,2,,,,,\n");
    const bad = runCli(["status", "publish", join(dir, "bad.csv"), "--url", deadUrl, "--key", keys.privateKeyPath, "--site", "hq"]);
    expect(bad.status).toBe(3);
    expect(bad.stderr).toMatch(/bad\.csv:2: same id as line 1, with different contents/);
    const dead = runCli(["cmd", "--url", deadUrl, "--key", keys.privateKeyPath, "--site", "hq", "--all", "sync"]);
    expect(dead.status).toBe(1);
    expect(dead.stderr).toMatch(/^qrgate: cmd: cannot connect to mqtt:\/\/127\.0\.0\.1:\d+: .+\n$/);
    const publicAsKey = runCli(["keys", "publish", keys.jwksPath, "--url", deadUrl, "--key", keys.jwksPath]);
    expect(publicAsKey.status).toBe(1);
    expect(publicAsKey.stderr).toMatch(/not a usable private key/);
  });
});
