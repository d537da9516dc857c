import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { logTag } from "../../src/gate.js";
import { openDatabase } from "../../src/store/database.js";
import { loadOrCreateLogTagSecret } from "../../src/store/log-tag-secret.js";
import { SETTING, Settings } from "../../src/store/settings.js";

const ID = "001099012345";
const settingsAt = (path: string) => new Settings(openDatabase(path, { synchronous: "FULL" }));

describe("the who tag of log lines", () => {
  it("is keyed by a per-device secret kept in the store: stable across restarts, different on another device", () => {
    const a = join(mkdtempSync(join(tmpdir(), "qrgate-tag-")), "a.db");
    const b = join(mkdtempSync(join(tmpdir(), "qrgate-tag-")), "b.db");
    const first = logTag(ID, loadOrCreateLogTagSecret(settingsAt(a)));
    const again = logTag(ID, loadOrCreateLogTagSecret(settingsAt(a)));
    const other = logTag(ID, loadOrCreateLogTagSecret(settingsAt(b)));
    expect(first).toMatch(/^[0-9a-f]{8}$/);
    expect(again).toBe(first);
    expect(other).not.toBe(first);
  });

  it("is not the unkeyed SHA-256 every gate would share (reversible by trying every ID)", () => {
    const secret = loadOrCreateLogTagSecret(settingsAt(join(mkdtempSync(join(tmpdir(), "qrgate-tag-")), "g.db")));
    expect(logTag(ID, secret)).not.toBe(createHash("sha256").update(ID).digest("hex").slice(0, 8));
  });

  it("replaces a damaged stored secret with a new random one", () => {
    const path = join(mkdtempSync(join(tmpdir(), "qrgate-tag-")), "g.db");
    const s = settingsAt(path);
    s.set(SETTING.logTagSecret, "not-hex");
    const secret = loadOrCreateLogTagSecret(s, () => Buffer.alloc(32, 9));
    expect(secret).toEqual(Buffer.alloc(32, 9));
    expect(s.get(SETTING.logTagSecret)).toBe("09".repeat(32));
  });

  it("is absent without a secret, and for a code with no subject", () => {
    expect(logTag(ID, undefined)).toBeNull();
    expect(logTag(null, Buffer.alloc(32))).toBeNull();
  });
});
