import type { KeyObject } from "node:crypto";
import type { MqttClient } from "mqtt";
import { sendCommand } from "../centre/fleet-commands.js";
import type { CommandResult, CommandSender, DashboardOp } from "./dashboard-server.js";

/** A command pressed in the dashboard expires after this: long enough for a gate that is reconnecting. */
const COMMAND_TTL_S = 60;
/** How long the dashboard waits for the gate's answer before telling the admin it did not answer. */
const ANSWER_TIMEOUT_MS = 10_000;

/** Sends the dashboard's commands signed with the centre key, through the signing code of `qrgate cmd`. */
export class SignedCommandSender implements CommandSender {
  constructor(
    private readonly client: MqttClient,
    private readonly privateKey: KeyObject,
    private readonly root: string,
    private readonly nowMs: () => number = Date.now,
  ) {}

  async send(site: string, device: string, op: DashboardOp): Promise<CommandResult> {
    const out = await sendCommand(this.client, this.privateKey, { root: this.root, site, device, op, ttlS: COMMAND_TTL_S, nowMs: this.nowMs(), timeoutMs: ANSWER_TIMEOUT_MS });
    return {
      id: out.id,
      answers: [...out.answers].sort(([a], [b]) => a.localeCompare(b)).map(([d, a]) => ({ device: d, ok: a.ok, ...(a.error !== undefined ? { error: a.error } : {}) })),
      silent: [...out.silent],
    };
  }
}
