import { describe, expect, it } from "vitest";
import { provisionedDocument } from "../../src/provisioning/config-writer.js";
import type { ProvisioningGrant } from "../../src/provisioning/provisioning-code.js";

const grant: ProvisioningGrant = {
  site: "hq",
  device: "gate-1",
  door: "lobby",
  mqtt: { url: "mqtts://b:8883", username: "hq.gate-1", password: "new" },
  iat: 1,
  exp: 2,
  jti: "j",
  kid: "provisioning",
};

describe("applying a provisioning grant to a config document", () => {
  it("keeps the device's own settings, replaces the whole broker login and drops the provisioning flag", () => {
    const doc = provisionedDocument(
      {
        provisioning: true,
        scanner: { type: "serial", path: "/dev/ttyACM0" },
        relay: { type: "gpio", pin: 17 },
        mqtt: { url: "mqtt://old:1883", username: "old", password: "old", cert: "c.pem", key: "k.pem", keepaliveS: 60 },
      },
      grant,
      undefined,
    );
    expect(doc).toEqual({
      site: "hq",
      device: "gate-1",
      door: "lobby",
      scanner: { type: "serial", path: "/dev/ttyACM0" },
      relay: { type: "gpio", pin: 17 },
      mqtt: { url: "mqtts://b:8883", username: "hq.gate-1", password: "new", keepaliveS: 60 },
    });
  });

  it("puts the store in systemd's state directory on first boot, not beside the config in /etc", () => {
    expect(provisionedDocument(undefined, grant, "/var/lib/qrgate").store).toEqual({ path: "/var/lib/qrgate/qrgate.db" });
    expect(provisionedDocument({ store: { path: "/data/g.db" } }, grant, "/var/lib/qrgate").store).toEqual({ path: "/data/g.db" });
    expect(provisionedDocument(undefined, grant, undefined).store).toBeUndefined();
  });
});
