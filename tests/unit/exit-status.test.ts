import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.js";
import { CliError } from "../../src/cli/cli-error.js";
import { failure } from "../../src/cli/exit-status.js";
import { StoreError } from "../../src/store/store-error.js";

class GpioError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

function errno(code: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: open '${path}'`), { code, path });
}

describe("exit statuses", () => {
  it.each([
    ["a usage error", new CliError("run: Unknown option '--x'"), 2, "run: Unknown option '--x'"],
    ["a verb's own status", new CliError("nothing imported", 3), 3, "nothing imported"],
    ["one config problem", new ConfigError("/etc/qrgate/config.json", ["mqtt.ca: cannot read /x: no such file"]), 2, "invalid configuration /etc/qrgate/config.json: mqtt.ca: cannot read /x: no such file"],
    ["an unusable store", new StoreError("E_STORE_OPEN", "cannot open store /ro/gate.db: attempt to write a readonly database"), 2, "cannot open store /ro/gate.db: attempt to write a readonly database"],
    ["a file error with a path", errno("EACCES", "/var/lib/qrgate/gate.db"), 2, "cannot use /var/lib/qrgate/gate.db: EACCES"],
    ["a typed device error", new GpioError("E_GPIO_BUSY", "GPIO line 17 is held by another process"), 2, "GPIO line 17 is held by another process"],
    ["a bug", new TypeError("cannot read properties of undefined"), 70, "internal error: cannot read properties of undefined (QRGATE_DEBUG=1 shows the stack)"],
    ["a thrown string", "boom", 70, "internal error: boom (QRGATE_DEBUG=1 shows the stack)"],
  ])("%s", (_what, e, status, text) => {
    expect(failure(e, {})).toEqual({ status, text });
  });

  it("lists every problem of a configuration with several, one a line", () => {
    const f = failure(new ConfigError("c.json", ["site: must match", "relay.pulseMs: must be integer"]), {});
    expect(f.status).toBe(2);
    expect(f.text.split("\n")).toEqual(["invalid configuration c.json:", "  - site: must match", "  - relay.pulseMs: must be integer"]);
  });

  it("shows a bug's stack only with QRGATE_DEBUG", () => {
    const e = new Error("bug");
    expect(failure(e, {}).text).not.toMatch(/\n\s+at /);
    expect(failure(e, { QRGATE_DEBUG: "1" }).text).toMatch(/^internal error: bug\nError: bug\n\s+at /);
  });

  it("Node's own ERR_ codes are not mistaken for a user's problem", () => {
    const e = Object.assign(new Error("invalid arg"), { code: "ERR_INVALID_ARG_TYPE" });
    expect(failure(e, {}).status).toBe(70);
  });
});
