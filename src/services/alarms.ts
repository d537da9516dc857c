import type { Logger } from "pino";
import type { AlarmType, EventMessage } from "../contract/event.js";
import { deviceTopic } from "../contract/topics.js";
import type { Clock } from "../drivers/clock.js";
import type { Journal } from "../store/journal.js";
import { Uuidv7Generator } from "./uuidv7.js";

/** Raises an alarm: logged at warn, and delivered to the centre through the outbox like an entry. */
export interface AlarmSink {
  raise(event: AlarmType, detail: string): void;
}

export class OutboxAlarms implements AlarmSink {
  private readonly ids = new Uuidv7Generator();

  constructor(
    private readonly where: { readonly root: string; readonly site: string; readonly device: string },
    private readonly journal: Pick<Journal, "queueMessage">,
    private readonly clock: Clock,
    private readonly kick: () => void,
    private readonly log: Logger,
  ) {}

  raise(event: AlarmType, detail: string): void {
    this.log.warn({ event }, detail);
    const now = this.clock.wallMs();
    const msg: EventMessage = {
      id: this.ids.next(now),
      ts: new Date(now).toISOString(),
      site: this.where.site,
      device: this.where.device,
      event,
      detail,
    };
    try {
      this.journal.queueMessage(deviceTopic(this.where.root, this.where.site, this.where.device, "event"), JSON.stringify(msg), now);
      this.kick();
    } catch (e) {
      // An alarm we cannot store is still in the log; it must never take the gate down.
      this.log.error({ event, err: (e as Error).message }, "could not queue the alarm");
    }
  }
}
