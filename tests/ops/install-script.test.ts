/**
 * scripts/install.sh run for real into a temporary root (`--root DIR`): what it installs, that a second run changes
 * nothing, and that --uninstall takes it away. Plus shellcheck on every shell script.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const INSTALL = join(ROOT, "scripts/install.sh");
const CLI = join(ROOT, "dist/src/cli/main.js");
const hasShellcheck = spawnSync("shellcheck", ["--version"]).status === 0;
if (!hasShellcheck) process.stderr.write("shellcheck test skipped: shellcheck not found (apt-get install shellcheck)\n");

function install(args: string[]) {
  return spawnSync("bash", [INSTALL, ...args], { encoding: "utf8", timeout: 300_000 });
}

/** Every path under `dir` with its mode, size and modification time: what "changes nothing" compares. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const s = statSync(p, { bigint: true });
      out.push(`${relative(dir, p)} ${s.mode.toString(8)} ${s.size} ${s.mtimeNs}`);
      if (e.isDirectory() && !e.isSymbolicLink()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

describe.skipIf(!hasShellcheck)("shell scripts", () => {
  it.each(readdirSync(join(ROOT, "scripts")).filter((f) => f.endsWith(".sh")))("%s is shellcheck-clean", (f) => {
    const r = spawnSync("shellcheck", ["-x", join(ROOT, "scripts", f)], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});

describe("scripts/install.sh --root", () => {
  let root: string;
  let first: ReturnType<typeof install>;

  beforeAll(() => {
    if (!existsSync(join(ROOT, "dist/src/cli/main.js"))) throw new Error("dist/ is missing: run 'npm run build' (npm test does it first)");
    root = mkdtempSync(join(tmpdir(), "qrgate-root-"));
    first = install(["--root", root, "--config", join(ROOT, "device-config/examples/simulator.json"), "--scanner", "hid:0C2E:0B61"]);
  });

  it("installs the app, production dependencies only, a wrapper on the PATH, the config, a udev rule and the units", () => {
    expect(first.stderr.replace(/^npm warn.*\n/gm, "")).toBe("");
    expect(first.status).toBe(0);
    const app = join(root, "opt/qrgate");
    expect(existsSync(join(app, "dist/src/cli/main.js"))).toBe(true);
    expect(existsSync(join(app, "node_modules/better-sqlite3"))).toBe(true);
    expect(existsSync(join(app, "node_modules/vitest"))).toBe(false);
    expect(existsSync(join(app, "node_modules/typescript"))).toBe(false);
    const wrapper = join(root, "usr/local/bin/qrgate");
    expect(statSync(wrapper).mode & 0o777).toBe(0o755);
    expect(readFileSync(wrapper, "utf8")).toContain("/opt/qrgate/dist/src/cli/main.js");
    expect(readFileSync(join(root, "etc/systemd/system/qrgate.service"), "utf8")).toBe(readFileSync(join(ROOT, "systemd/qrgate.service"), "utf8"));
    expect(readFileSync(join(root, "etc/udev/rules.d/70-qrgate-scanner.rules"), "utf8")).toContain(
      'SUBSYSTEM=="hidraw", ATTRS{idVendor}=="0c2e", ATTRS{idProduct}=="0b61", GROUP="plugdev", MODE="0660"',
    );
    expect(statSync(join(root, "etc/qrgate/config.json")).mode & 0o777).toBe(0o640);
    // The system-wide steps are named, not run.
    expect(first.stdout).toMatch(/\(--root: skipped\) useradd --system .* qrgate/);
    expect(first.stdout).toMatch(/\(--root: skipped\) systemctl enable qrgate\.service/);
  });

  it("installs an app that runs on its production dependencies", () => {
    const r = spawnSync(process.execPath, [join(root, "opt/qrgate/dist/src/cli/main.js"), "config", "check", "--config", join(root, "etc/qrgate/config.json")], { encoding: "utf8" });
    expect(r.stdout).toMatch(/: ok\n$/);
    expect(r.status).toBe(0);
  });

  it("changes nothing when run a second time", () => {
    const before = snapshot(root);
    const again = install(["--root", root, "--config", join(ROOT, "device-config/examples/simulator.json"), "--scanner", "hid:0C2E:0B61"]);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain("qrgate install: nothing to change: already installed");
    expect(snapshot(root)).toEqual(before);
  });

  it("--uninstall removes the app, wrapper, units and rule but keeps the config; --purge removes that too", () => {
    const r = install(["--root", root, "--uninstall"]);
    expect(r.status).toBe(0);
    for (const p of ["opt/qrgate", "usr/local/bin/qrgate", "etc/systemd/system/qrgate.service", "etc/udev/rules.d/70-qrgate-scanner.rules"]) {
      expect(existsSync(join(root, p)), p).toBe(false);
    }
    expect(existsSync(join(root, "etc/qrgate/config.json"))).toBe(true);
    expect(install(["--root", root, "--uninstall", "--purge"]).status).toBe(0);
    expect(existsSync(join(root, "etc/qrgate"))).toBe(false);
  });

  it("installs a provisioned config with the files beside it that it names", () => {
    const dir = mkdtempSync(join(tmpdir(), "qrgate-prov-"));
    const src = mkdtempSync(join(tmpdir(), "qrgate-keys-"));
    expect(spawnSync(process.execPath, [CLI, "keys", "gen", "--kid", "centre", "--out", src]).status).toBe(0);
    const p = spawnSync(
      process.execPath,
      [CLI, "provision", "--site", "hq", "--device", "gate-1", "--door", "lobby", "--url", "mqtt://127.0.0.1:1883", "--out", dir, "--centre-key", join(src, "issuer-keys.jwks.json")],
      { encoding: "utf8" },
    );
    expect(p.status).toBe(0);
    const root2 = mkdtempSync(join(tmpdir(), "qrgate-root-"));
    const r = install(["--root", root2, "--config", join(dir, "config.json")]);
    expect(r.status).toBe(0);
    expect(readFileSync(join(root2, "etc/qrgate/centre-key.json"), "utf8")).toBe(readFileSync(join(src, "issuer-keys.jwks.json"), "utf8"));
    expect(r.stdout).toContain(`${join(root2, "etc/qrgate/config.json")}: ok`);
  });

  it("refuses a bad argument in one line, exit 2", () => {
    const r = install(["--root", root, "--scanner", "usb"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("install.sh: --scanner must be serial:PATH or hid:VID:PID, got 'usb'\n");
  });
});
