/**
 * Acknowledge-after-commit on top of mqtt.js 5, without giving up throughput.
 *
 * mqtt.js hands incoming PUBLISH packets to `client.handleMessage(packet, callback)` strictly one at a time
 * (`client.js` `work()` -> `handlers/publish.js`): the next packet is not handled until the callback runs, and
 * for QoS 1 the callback is what sends the PUBACK. Holding the callback until a batch commits would therefore
 * let exactly one message into each batch (one commit per message).
 *
 * What `handlers/publish.js` does with the callback: `callback(err)` with an error skips the PUBACK and
 * moves on to the next packet, without emitting anything. So `DeferredAcks` calls back at once with
 * `ACK_DEFERRED` and sends the PUBACK itself after the commit. MQTT 5 §4.6 wants PUBACKs in the order the
 * PUBLISHes came, which batches committed one after another preserve.
 *
 * A PUBACK must go out on the connection that received the PUBLISH: packet ids are per connection, and a
 * stale id acknowledged on a new connection could acknowledge a different, uncommitted message. Each message
 * therefore carries the connection's generation; after a reconnect, older ones are not acknowledged and the
 * broker redelivers them (the store de-duplicates by id).
 *
 * Sending uses mqtt.js's `_sendPacket` (private in its typings). Both halves of the trick are private behaviour
 * of mqtt.js, so `mqtt` is pinned to an exact version in package.json, and `selfTest()` proves at start, against
 * the mqtt.js actually installed and without a broker, that they still hold: a client on a stub stream is fed a
 * CONNACK and a QoS 1 PUBLISH; the error callback must leave it unacknowledged, and `ack` (`_sendPacket`) must
 * then write exactly its PUBACK. The collector refuses to start (`AckSelfTestError`, code `E_ACK_SELFTEST`)
 * otherwise, instead of silently never acknowledging or acknowledging before the commit.
 */
import { Duplex } from "node:stream";
import mqtt, { type IPublishPacket, type MqttClient } from "mqtt";

/** The error handed to mqtt.js's callback so that it does not send the PUBACK itself. */
export const ACK_DEFERRED = new Error("PUBACK deferred until the batch commits");

interface PrivateClient {
  _sendPacket(packet: { cmd: "puback"; messageId: number; reasonCode?: number }, cb?: () => void, cbStorePut?: undefined, noStore?: boolean): void;
}

export interface Received {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1 | 2;
  readonly messageId: number | undefined;
  /** Connection generation the message came on. */
  readonly generation: number;
}

/** The installed mqtt.js does not behave as acknowledge-after-commit needs: the collector must not run. */
export class AckSelfTestError extends Error {
  readonly code = "E_ACK_SELFTEST";
  constructor(detail: string) {
    super(`acknowledge-after-commit self-test failed against the installed mqtt.js: ${detail} (see src/centre/deferred-acks.ts)`);
    this.name = "AckSelfTestError";
  }
}

/** MQTT 5 control packet types (first nibble of the fixed header). */
const CONNACK = 0x20;
const PUBLISH_QOS1 = 0x32;
const PUBLISH_QOS0 = 0x30;
const PUBACK = 0x40;

/** A fixed header's Remaining Length as a variable byte integer (MQTT 5 §1.5.5); the ingest bench's publishers use it too. */
export function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** An MQTT 5 PUBLISH with no properties: `messageId` only for QoS 1. */
function publishBytes(topic: string, payload: string, messageId: number | null): Buffer {
  const t = Buffer.from(topic, "utf8");
  const p = Buffer.from(payload, "utf8");
  const id = messageId === null ? [] : [messageId >> 8, messageId & 0xff];
  const body = Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, Buffer.from([...id, 0]), p]);
  return Buffer.concat([Buffer.from([messageId === null ? PUBLISH_QOS0 : PUBLISH_QOS1, ...varint(body.length)]), body]);
}

/** Every PUBACK packet id in what the client wrote (it writes CONNECT first, then only what we make it send). */
function pubackIds(written: Buffer): number[] {
  const ids: number[] = [];
  let at = 0;
  while (at < written.length) {
    const type = written[at]!;
    let len = 0;
    let mul = 1;
    let i = at + 1;
    for (;;) {
      const b = written[i++];
      if (b === undefined) return ids;
      len += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) break;
    }
    if ((type & 0xf0) === PUBACK) ids.push((written[i]! << 8) | written[i + 1]!);
    at = i + len;
  }
  return ids;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

let selfTested: Promise<void> | null = null;

export class DeferredAcks {
  private generation = 0;

  constructor(private readonly client: MqttClient) {}

  /** Throws when this mqtt.js does not have the private method the deferred PUBACK relies on. */
  static assertSupported(client: MqttClient): void {
    if (typeof (client as unknown as Partial<PrivateClient>)._sendPacket !== "function") {
      throw new AckSelfTestError("the client has no _sendPacket");
    }
  }

  /**
   * Proves, against the mqtt.js installed and without a broker, what acknowledge-after-commit relies on: a QoS 1
   * PUBLISH whose `handleMessage` callback gets an error is handed to us and NOT acknowledged by mqtt.js (and the
   * next packet is still handled), and `ack` then writes exactly one PUBACK with its packet id. Runs once per
   * process (later calls share the first result); rejects with `AckSelfTestError` (`E_ACK_SELFTEST`).
   */
  static selfTest(): Promise<void> {
    selfTested ??= DeferredAcks.check();
    return selfTested;
  }

  /**
   * The self-test itself, uncached. `tamper` (tests only) changes the client after our handler is installed,
   * to play an mqtt.js that behaves differently.
   */
  static async check(tamper?: (client: MqttClient) => void): Promise<void> {
    const chunks: Buffer[] = [];
    const stub = new Duplex({
      read() {
        // Packets are pushed below.
      },
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    });
    const client = new mqtt.MqttClient(() => stub, {
      protocolVersion: 5,
      clientId: "qrgate-ack-selftest",
      keepalive: 0,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      log: () => undefined,
    });
    client.on("error", () => undefined);
    try {
      DeferredAcks.assertSupported(client);
      const acks = new DeferredAcks(client);
      const got: Received[] = [];
      acks.install((m) => got.push(m));
      tamper?.(client);
      const connected = new Promise<void>((resolve) => client.once("connect", () => resolve()));
      stub.push(Buffer.from([CONNACK, 3, 0, 0, 0]));
      await Promise.race([connected, turn().then(turn).then(turn)]);
      if (!client.connected) throw new AckSelfTestError("the client did not take the CONNACK");
      acks.connected();
      const written = (): Buffer => Buffer.concat(chunks);
      if (pubackIds(written()).length !== 0) throw new AckSelfTestError("a PUBACK was written before any PUBLISH");
      // The QoS 1 PUBLISH, then a QoS 0 one: mqtt.js handles packets one after the other, so once the second is
      // ours, the first is finished with, PUBACK included if mqtt.js were to send one.
      stub.push(Buffer.concat([publishBytes("selftest/a", "one", 4242), publishBytes("selftest/b", "two", null)]));
      for (let i = 0; i < 20 && got.length < 2; i++) await turn();
      await turn();
      if (got.length !== 2) throw new AckSelfTestError(`handleMessage saw ${got.length} of 2 PUBLISH packets: the error callback stalls the client`);
      const first = got[0]!;
      if (first.qos !== 1 || first.messageId !== 4242 || first.topic !== "selftest/a" || first.payload.toString() !== "one") {
        throw new AckSelfTestError("the QoS 1 PUBLISH was not handed over as sent");
      }
      if (pubackIds(written()).length !== 0) throw new AckSelfTestError("mqtt.js sent a PUBACK although the callback had an error");
      if (!acks.ack(first)) throw new AckSelfTestError("ack() refused the message of the current connection");
      await turn();
      const ids = pubackIds(written());
      if (ids.length !== 1 || ids[0] !== 4242) throw new AckSelfTestError(`_sendPacket wrote PUBACKs [${ids.join(", ")}], not [4242]`);
    } catch (e) {
      if (e instanceof AckSelfTestError) throw e;
      throw new AckSelfTestError(e instanceof Error ? e.message : String(e));
    } finally {
      client.end(true);
      stub.destroy();
    }
  }

  /** Call on every CONNACK: messages of earlier connections are no longer acknowledgeable. */
  connected(): void {
    this.generation += 1;
  }

  /**
   * Installs the handler: every PUBLISH is given to `onMessage` and mqtt.js moves on at once; QoS 1 and 2
   * messages stay unacknowledged until `ack` is called. (QoS 2 is not used by the fleet: the collector
   * subscribes at QoS 1, so the broker downgrades.)
   */
  install(onMessage: (m: Received) => void): void {
    this.client.handleMessage = (packet: IPublishPacket, callback: (err?: Error) => void): void => {
      onMessage({
        topic: packet.topic,
        // Not copied: mqtt-packet hands us a view of the bytes read from the socket, which nothing reuses; holding
        // it keeps at most the socket reads of the messages held (bounded by maxHeld) alive.
        payload: typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload,
        qos: packet.qos,
        messageId: packet.messageId,
        generation: this.generation,
      });
      callback(packet.qos === 1 ? ACK_DEFERRED : undefined);
    };
  }

  /**
   * Sends the PUBACKs of `batch`, in its order, corked into one write; returns how many were sent (messages of an
   * earlier connection, of QoS 0, or while disconnected are skipped).
   */
  ackAll(batch: readonly Received[]): number {
    const stream = (this.client as unknown as { stream?: { cork?: () => void; uncork?: () => void } }).stream;
    stream?.cork?.();
    let n = 0;
    try {
      for (const m of batch) if (this.ack(m)) n += 1;
    } finally {
      stream?.uncork?.();
    }
    return n;
  }

  /** Sends the PUBACK for a message if it is still acknowledgeable; returns whether it was sent. */
  ack(m: Received): boolean {
    if (m.qos !== 1 || m.messageId === undefined) return false;
    if (m.generation !== this.generation || !this.client.connected) return false;
    (this.client as unknown as PrivateClient)._sendPacket({ cmd: "puback", messageId: m.messageId, reasonCode: 0 }, undefined, undefined, true);
    return true;
  }
}
