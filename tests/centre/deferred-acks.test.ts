import type { IPublishPacket, MqttClient } from "mqtt";
import { describe, expect, it } from "vitest";
import { AckSelfTestError, DeferredAcks } from "../../src/centre/deferred-acks.js";

type Handler = (packet: IPublishPacket, callback: (err?: Error) => void) => void;

describe("DeferredAcks self-test against the installed mqtt.js", () => {
  it("passes: an error callback skips the PUBACK and _sendPacket sends it", async () => {
    await expect(DeferredAcks.check()).resolves.toBeUndefined();
  });

  it("is run once per process and shared", async () => {
    const a = DeferredAcks.selfTest();
    expect(DeferredAcks.selfTest()).toBe(a);
    await expect(a).resolves.toBeUndefined();
  });

  it("fails with E_ACK_SELFTEST when the error callback no longer skips the PUBACK", async () => {
    const err = await DeferredAcks.check((client: MqttClient) => {
      const ours: Handler = client.handleMessage.bind(client);
      // An mqtt.js that acknowledges whatever the callback says.
      client.handleMessage = (packet, callback) => ours(packet, () => callback());
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AckSelfTestError);
    expect((err as AckSelfTestError).code).toBe("E_ACK_SELFTEST");
    expect((err as Error).message).toMatch(/sent a PUBACK although the callback had an error/);
  });

  it("fails with E_ACK_SELFTEST when _sendPacket no longer sends the PUBACK", async () => {
    const err = await DeferredAcks.check((client) => {
      (client as unknown as { _sendPacket: () => void })._sendPacket = () => undefined;
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AckSelfTestError);
    expect((err as Error).message).toMatch(/_sendPacket wrote PUBACKs \[\], not \[4242\]/);
  });

  it("fails with E_ACK_SELFTEST when _sendPacket is gone", async () => {
    const err = await DeferredAcks.check((client) => {
      (client as unknown as { _sendPacket: undefined })._sendPacket = undefined;
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AckSelfTestError);
  });

  it("fails with E_ACK_SELFTEST when the error callback stalls the client", async () => {
    const err = await DeferredAcks.check((client) => {
      const ours: Handler = client.handleMessage.bind(client);
      // An mqtt.js that waits for a successful callback before the next packet.
      client.handleMessage = (packet, callback) => ours(packet, (e) => (e === undefined ? callback() : undefined));
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AckSelfTestError);
    expect((err as Error).message).toMatch(/saw 1 of 2 PUBLISH/);
  });
});
