import type { Logger } from "pino";
import type { MqttClient } from "mqtt";
import type { AlarmSink } from "../services/alarms.js";
import type { Clock } from "../drivers/clock.js";
import { jtiHash, parseUsedPassesMessage, usedPassesTopic, type UsedPassesMessage } from "../contract/used-passes.js";

export interface SiteReplayPorts {
  /** Where passes used at other gates are recorded (persisted with their expiry). */
  readonly store: { addRemote(items: ReadonlyArray<{ h: string; exp: number }>): void };
  /** Puts a message in the outbox, durably (delivery then rests on the outbox like an entry's). */
  readonly queue: (topic: string, payload: string, createdMs: number) => void;
  /** The outbox has something new. */
  readonly kick: () => void;
  readonly alarms: AlarmSink;
  readonly clock: Clock;
  readonly log: Logger;
}

export interface SiteReplayWhere {
  readonly root: string;
  readonly site: string;
  readonly device: string;
}

/** At most one `bad_message` event this often, however many bad messages arrive: a flood must not fill the outbox. */
const BAD_EVENT_EVERY_MS = 60_000;

/**
 * Makes a pass single-use across the gates of a site. A pass this gate let someone in with goes out on the
 * site's used-passes topic (through the outbox); a pass another gate used is recorded in the used-passes store
 * and refused `replayed` here. Own echoes are ignored; malformed or oversized messages are refused with a
 * rate-limited `bad_message` event and never reach the store.
 */
export class SiteReplay {
  private client: MqttClient | null = null;
  private readonly topic: string;
  private badSinceEvent = 0;
  private lastBadEventMono = -Infinity;
  private stopped = false;
  /** Passes received from other gates since start, for tests and logs. */
  received = 0;

  private readonly onMessage = (topic: string, payload: Buffer): void => {
    if (topic === this.topic && !this.stopped) this.handle(payload);
  };

  constructor(
    private readonly where: SiteReplayWhere,
    private readonly ports: SiteReplayPorts,
  ) {
    this.topic = usedPassesTopic(where.root, where.site);
  }

  /**
   * The outbox message that tells the site a pass was used here (`expiresS`: its `exp` plus skew), for the journal
   * to write in the entry's own transaction (then nothing more is needed: the gate nudges the uplink after it).
   */
  usedMessage(jti: string, expiresS: number): { readonly topic: string; readonly payload: string; readonly createdMs: number } {
    const now = this.ports.clock.wallMs();
    const msg: UsedPassesMessage = {
      v: 1,
      ts: new Date(now).toISOString(),
      site: this.where.site,
      device: this.where.device,
      passes: [{ h: jtiHash(jti), exp: expiresS }],
    };
    return { topic: this.topic, payload: JSON.stringify(msg), createdMs: now };
  }

  /** Tells the site that a pass was used here, through the outbox on its own; `expiresS` is its `exp` plus skew. Never throws. */
  used(jti: string, expiresS: number): void {
    try {
      const m = this.usedMessage(jti, expiresS);
      this.ports.queue(m.topic, m.payload, m.createdMs);
      this.ports.kick();
    } catch (e) {
      // The pass is still used up here; only the other gates will not hear of it.
      this.ports.log.error({ err: (e as Error).message }, "could not queue the used pass for the site");
    }
  }

  /** Subscribes on this client now and, as the session is clean, again on every reconnect (call on connect). */
  attach(client: MqttClient): void {
    if (this.stopped) return;
    if (this.client !== client) {
      this.client?.removeListener("message", this.onMessage);
      this.client = client;
      client.on("message", this.onMessage);
    }
    // No Local (MQTT 5): the broker does not send back what this gate published itself; an own echo would cost a
    // delivery, a parse and a PUBACK per pass only to be ignored (the check in `handle` stays for brokers that send it).
    client.subscribe(this.topic, { qos: 1, nl: true }, (e) => {
      if (e) this.ports.log.warn({ err: e.message }, "could not subscribe to the site's used passes");
    });
  }

  stop(): void {
    this.stopped = true;
    this.client?.removeListener("message", this.onMessage);
    this.client = null;
  }

  /** One message from the site topic. Exposed for tests; never throws. */
  handle(payload: Buffer): void {
    const p = this.ports;
    const nowS = Math.floor(p.clock.wallMs() / 1000);
    const r = parseUsedPassesMessage(payload, this.where.site, nowS);
    if (!r.ok) {
      this.refuse(r.error, payload.length);
      return;
    }
    if (r.value.device === this.where.device) return;
    // Already expired: refused as expired anyway, not worth a row.
    const live = r.value.passes.filter((x) => x.exp >= nowS);
    if (live.length === 0) return;
    try {
      p.store.addRemote(live);
      this.received += live.length;
      p.log.debug({ from: r.value.device, passes: live.length }, "passes used at another gate recorded");
    } catch (e) {
      p.log.error({ err: (e as Error).message }, "could not record passes used at another gate");
    }
  }

  private refuse(error: string, bytes: number): void {
    const p = this.ports;
    this.badSinceEvent++;
    p.log.warn({ topic: this.topic, bytes, err: error }, "refused a message on the site's used-passes topic");
    const now = p.clock.monoMs();
    if (now - this.lastBadEventMono < BAD_EVENT_EVERY_MS) return;
    this.lastBadEventMono = now;
    const n = this.badSinceEvent;
    this.badSinceEvent = 0;
    p.alarms.raise("bad_message", `${n} message(s) refused on ${this.topic}: ${error}`);
  }
}
