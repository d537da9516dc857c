/**
 * scripts/kiosk/: the Chromium launcher picks Wayland (labwc, current Raspberry Pi OS) or X11 (older) and waits for
 * the gate's page; its systemd user unit is valid. The browser is replaced by a script that records its arguments
 * (no display exists here to show a real kiosk on).
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createNetServer, type Server as NetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const LAUNCHER = fileURLToPath(new URL("../../scripts/kiosk/qrgate-kiosk", import.meta.url));
const UNIT = fileURLToPath(new URL("../../scripts/kiosk/qrgate-kiosk.service", import.meta.url));

describe("the kiosk launcher and its unit", () => {
  let dir: string;
  let page: Server;
  let url: string;
  let sockets: NetServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "qrgate-launcher-"));
    writeFileSync(join(dir, "fake-chromium"), `#!/bin/sh\nprintf '%s\\n' "$@" > "${dir}/args"\nenv > "${dir}/env"\n`);
    chmodSync(join(dir, "fake-chromium"), 0o755);
    page = createHttpServer((_req, res) => res.end("ok"));
    await new Promise<void>((r) => page.listen(0, "127.0.0.1", r));
    const a = page.address();
    url = `http://127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}/`;
    sockets = createNetServer();
    await new Promise<void>((r) => sockets.listen(join(dir, "wayland-0"), r));
  });

  afterAll(async () => {
    await new Promise((r) => page.close(r));
    await new Promise((r) => sockets.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const launch = async (env: Record<string, string>) => {
    const base: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, QRGATE_KIOSK_BROWSER: join(dir, "fake-chromium"), QRGATE_KIOSK_URL: url };
    rmSync(join(dir, "args"), { force: true });
    // Asynchronous: the page server in this process must be able to answer the launcher's curl.
    const child = spawn("bash", [LAUNCHER], { env: { ...base, ...env } });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
    const status = await new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
    let args: string[] = [];
    try {
      args = readFileSync(join(dir, "args"), "utf8").trim().split("\n");
    } catch {
      // the browser was never started
    }
    return { status, stderr, args };
  };

  it("is shellcheck-clean", () => {
    const r = spawnSync("shellcheck", [LAUNCHER], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("starts Chromium in kiosk mode on Wayland when the session has a Wayland display", async () => {
    const r = await launch({ WAYLAND_DISPLAY: "wayland-1", XDG_RUNTIME_DIR: dir });
    expect(r.status).toBe(0);
    expect(r.args).toEqual(expect.arrayContaining(["--ozone-platform=wayland", "--kiosk", `--app=${url}`, "--noerrdialogs", url]));
    expect(r.args.some((a) => a.startsWith(`--user-data-dir=${dir}/`))).toBe(true);
  });

  it("uses X11 on an older desktop with only DISPLAY", async () => {
    const r = await launch({ DISPLAY: ":0", XDG_RUNTIME_DIR: dir });
    expect(r.status).toBe(0);
    expect(r.args).toContain("--ozone-platform=x11");
    expect(r.args).not.toContain("--ozone-platform=wayland");
  });

  it("finds labwc's Wayland socket when started by systemd without the session's environment", async () => {
    const r = await launch({ XDG_RUNTIME_DIR: dir });
    expect(r.status).toBe(0);
    expect(r.args).toContain("--ozone-platform=wayland");
    expect(readFileSync(join(dir, "env"), "utf8")).toMatch(/^WAYLAND_DISPLAY=wayland-0$/m);
  });

  it("refuses a URL that is not http(s) in one line, exit 2, without starting a browser", async () => {
    const r = await launch({ QRGATE_KIOSK_URL: "file:///etc/passwd", XDG_RUNTIME_DIR: dir });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.args).toEqual([]);
  });

  it("shows the page anyway after QRGATE_KIOSK_WAIT_S when the gate does not answer", async () => {
    const r = await launch({ QRGATE_KIOSK_URL: "http://127.0.0.1:9/", QRGATE_KIOSK_WAIT_S: "1", WAYLAND_DISPLAY: "wayland-1", XDG_RUNTIME_DIR: dir });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/does not answer after 1 s/);
    expect(r.args).toContain("http://127.0.0.1:9/");
  });

  it("has a unit systemd-analyze accepts", () => {
    const unit = join(dir, "qrgate-kiosk.service");
    writeFileSync(unit, readFileSync(UNIT, "utf8").replaceAll("/opt/qrgate/scripts/kiosk/qrgate-kiosk", LAUNCHER));
    const r = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
