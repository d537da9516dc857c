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
 * Sending uses mqtt.js's `_sendPacket` (private in its typings). `assertSupported` checks it is there at start,
 * so an mqtt.js upgrade that removes it fails loudly instead of silently never acknowledging.
 */
import type { IPublishPacket, MqttClient } from "mqtt";

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

export class DeferredAcks {
  private generation = 0;

  constructor(private readonly client: MqttClient) {}

  /** Throws when this mqtt.js does not have the private method the deferred PUBACK relies on. */
  static assertSupported(client: MqttClient): void {
    if (typeof (client as unknown as Partial<PrivateClient>)._sendPacket !== "function") {
      throw new Error("this mqtt.js has no _sendPacket: acknowledge-after-commit cannot work (see deferred-acks.ts)");
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
        payload: typeof packet.payload === "string" ? Buffer.from(packet.payload) : Buffer.from(packet.payload),
        qos: packet.qos,
        messageId: packet.messageId,
        generation: this.generation,
      });
      callback(packet.qos === 1 ? ACK_DEFERRED : undefined);
    };
  }

  /** Sends the PUBACK for a message if it is still acknowledgeable; returns whether it was sent. */
  ack(m: Received): boolean {
    if (m.qos !== 1 || m.messageId === undefined) return false;
    if (m.generation !== this.generation || !this.client.connected) return false;
    (this.client as unknown as PrivateClient)._sendPacket({ cmd: "puback", messageId: m.messageId, reasonCode: 0 }, undefined, undefined, true);
    return true;
  }
}
