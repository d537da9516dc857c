/**
 * A gate in provisioning mode: reads codes from its scanner, ignores everything but `QGP1:` codes, verifies those
 * (provisioning-code.ts), and hands the first good one to `apply`. Opens nothing: no relay, no store, no uplink.
 */
import type { Logger } from "pino";
import type { Clock } from "../drivers/clock.js";
import type { IssuerKeySet } from "../core/issuer-keys.js";
import type { Scanner } from "../drivers/scanner/scanner.js";
import { isProvisioningCode, verifyProvisioningCode, type ProvisioningGrant, type ProvisioningRefusal } from "./provisioning-code.js";

export interface ProvisioningEvents {
  /** A code was refused; nothing changed. */
  refused(r: ProvisioningRefusal): void;
  /** A code was verified and `apply` succeeded. */
  applied(grant: ProvisioningGrant): void;
}

export class ProvisioningService {
  private done = false;
  private finish!: (grant: ProvisioningGrant | null) => void;
  /** Resolves with the applied grant, or null when the scanner closed (or stop was called) first. */
  readonly result = new Promise<ProvisioningGrant | null>((resolve) => (this.finish = resolve));

  /**
   * @param apply writes the grant; a throw (e.g. the resulting config is invalid) refuses the code, nothing else.
   */
  constructor(
    private readonly scanner: Scanner,
    private readonly keys: IssuerKeySet,
    private readonly skewS: number,
    private readonly clock: Clock,
    private readonly apply: (grant: ProvisioningGrant) => void,
    private readonly events: ProvisioningEvents,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.scanner.start({
      code: (c) => this.handle(c.bytes.toString("utf8")),
      state: (s, detail) => {
        if (s === "closed") this.end(null);
        else this.log.info({ scanner: s, detail }, "scanner state");
      },
    });
    this.log.info({ keys: [...this.keys.keys()] }, "provisioning mode: waiting for a QGP1 provisioning code");
  }

  stop(): Promise<void> {
    this.end(null);
    return this.scanner.stop();
  }

  private end(grant: ProvisioningGrant | null): void {
    if (this.done) return;
    this.done = true;
    this.finish(grant);
  }

  private handle(text: string): void {
    if (this.done) return;
    if (!isProvisioningCode(text)) {
      this.log.info("provisioning mode: not a provisioning code, ignored");
      return;
    }
    const v = verifyProvisioningCode(text, { keys: this.keys, nowS: Math.floor(this.clock.wallMs() / 1000), skewS: this.skewS });
    if (!v.ok) {
      this.log.warn({ reason: v.error.reason, detail: v.error.detail }, "provisioning code refused");
      this.events.refused(v.error);
      return;
    }
    try {
      this.apply(v.value);
    } catch (e) {
      const refusal: ProvisioningRefusal = { reason: "bad_format", detail: `cannot apply: ${(e as Error).message}` };
      this.log.error({ detail: refusal.detail }, "provisioning code refused");
      this.events.refused(refusal);
      return;
    }
    this.log.info({ site: v.value.site, device: v.value.device, door: v.value.door, jti: v.value.jti, kid: v.value.kid }, "provisioned");
    this.events.applied(v.value);
    this.end(v.value);
  }
}
