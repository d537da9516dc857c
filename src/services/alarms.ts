import type { Logger } from "pino";
import type { AlarmType, EventMessage } from "../contract/event.js";
import { deviceTopic } from "../contract/topics.js";
import type { Clock } from "../drivers/clock.js";
import type { Journal } from "../store/journal.js";
import type { DirectAlarmSink, FaultKind } from "./device-faults.js";
import { Uuidv7Generator } from "./uuidv7.js";

/** Raises an alarm: logged at warn, and delivered to the centre through the outbox like an entry. */
export interface AlarmSink {
  raise(event: AlarmType, detail: string): void;
}

/** Publishes a message at QoS 1 from memory, outside the outbox: for alarms about the store itself. */
export interface DirectPublisher {
  publishDirect(topic: string, payload: string): void;
}

/**
 * Alarms to `<root>/<site>/<device>/event`. `raise` goes through the outbox (durable, survives a restart); when
 * the outbox cannot take it (disk full) it falls back to a direct publish so it is still seen. `raiseDirect` is
 * for faults of the store or the door: it never touches the store.
 */
export class OutboxAlarms implements AlarmSink, DirectAlarmSink {
  private readonly ids = new Uuidv7Generator();

  constructor(
    private readonly where: { readonly root: string; readonly site: string; readonly device: string },
    private readonly journal: Pick<Journal, "queueMessage">,
    private readonly clock: Clock,
    private readonly kick: () => void,
    private readonly log: Logger,
    private readonly direct: DirectPublisher | null = null,
  ) {}

  raise(event: AlarmType, detail: string): void {
    this.log.warn({ event }, detail);
    const now = this.clock.wallMs();
    const payload = this.message(event, detail, now);
    try {
      this.journal.queueMessage(this.topic(), payload, now);
      this.kick();
    } catch (e) {
      // An alarm we cannot store is still in the log and, if the uplink is there, on the wire.
      this.log.error({ event, err: (e as Error).message }, "could not queue the alarm; sending it directly");
      this.direct?.publishDirect(this.topic(), payload);
    }
  }

  raiseDirect(event: FaultKind, detail: string): void {
    this.log.warn({ event }, detail);
    const payload = this.message(event, detail, this.clock.wallMs());
    if (this.direct === null) {
      this.log.error({ event }, "no uplink to send the alarm to");
      return;
    }
    this.direct.publishDirect(this.topic(), payload);
  }

  private topic(): string {
    return deviceTopic(this.where.root, this.where.site, this.where.device, "event");
  }

  private message(event: AlarmType, detail: string, now: number): string {
    const msg: EventMessage = {
      id: this.ids.next(now),
      ts: new Date(now).toISOString(),
      site: this.where.site,
      device: this.where.device,
      event,
      detail,
    };
    return JSON.stringify(msg);
  }
}
