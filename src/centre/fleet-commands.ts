/**
 * The centre's side of signed commands and of the issuer key set (docs/contract.md §5.7): sign, publish, and for a
 * command wait for each addressed device's `cmd/result`.
 */
import { createPublicKey, randomUUID, type KeyObject } from "node:crypto";
import type { MqttClient } from "mqtt";
import { commandTopic, keysTopic } from "../contract/sync-topics.js";
import { verifyCentreJws } from "../core/centre-jws.js";
import { parseJwks } from "../core/jwks.js";
import { MESSAGE_TYPE, parseKeySetMessage, type CommandOp } from "../core/sync-messages.js";
import { signCentreMessage } from "../issuer/centre-key.js";
import { publishAsync, readRetained } from "./broker-client.js";

/** The key set cannot be published as given; the message lists why. */
export class KeySetError extends Error {
  readonly code = "E_KEY_SET";
  constructor(message: string) {
    super(message);
    this.name = "KeySetError";
  }
}

/** Signs and publishes (retained) the issuer key set; returns its version. */
export async function publishKeySet(client: MqttClient, root: string, privateKey: KeyObject, jwks: unknown, nowMs: number): Promise<{ version: number; keys: number }> {
  const parsed = parseJwks(jwks);
  if (!parsed.ok) throw new KeySetError(parsed.error.join("; "));
  const centre = createPublicKey(privateKey).export({ format: "jwk" });
  for (const k of parsed.value.values()) {
    const jwk = k.key.export({ format: "jwk" });
    if (jwk.x === centre.x && jwk.crv === centre.crv) {
      throw new KeySetError(`key ${k.kid} is the centre key itself: gates would accept passes the centre key signs`);
    }
  }
  const retained = await readRetained(client, root, [keysTopic(root)]);
  const current = retained.get(keysTopic(root));
  let floor = 1;
  if (current !== undefined) {
    const v = verifyCentreJws(current.toString("utf8"), createPublicKey(privateKey), MESSAGE_TYPE.keys);
    const m = v.ok ? parseKeySetMessage(v.value) : null;
    if (m?.ok === true) floor = m.value.version + 1;
  }
  const version = Math.max(nowMs, floor);
  await publishAsync(client, keysTopic(root), signCentreMessage(privateKey, { type: MESSAGE_TYPE.keys, version, ts: nowMs, keys: jwks }), true);
  return { version, keys: parsed.value.size };
}

export interface CommandRequest {
  readonly root: string;
  readonly site: string;
  /** A device, or `all`. */
  readonly device: string;
  readonly op: CommandOp;
  readonly ttlS: number;
  readonly nowMs: number;
  /** How long to wait for answers. */
  readonly timeoutMs: number;
  readonly id?: string;
}

export interface CommandOutcome {
  readonly id: string;
  /** The devices expected to answer: the one addressed, or every device of the site whose retained state is online or degraded. */
  readonly expected: readonly string[];
  readonly answers: ReadonlyMap<string, { readonly ok: boolean; readonly error?: string }>;
  /** Expected devices that did not answer in time. */
  readonly silent: readonly string[];
}

/** Signs and sends one command, then collects the devices' results. */
export async function sendCommand(client: MqttClient, privateKey: KeyObject, r: CommandRequest): Promise<CommandOutcome> {
  const id = r.id ?? randomUUID();
  let expected: string[] = [r.device];
  if (r.device === "all") {
    const states = await readRetained(client, r.root, [`${r.root}/${r.site}/+/state`]);
    expected = [];
    for (const [topic, payload] of states) {
      try {
        // `degraded` is connected too (running with a fault); only `offline` cannot answer.
        const state = (JSON.parse(payload.toString("utf8")) as { state?: unknown }).state;
        if (state === "online" || state === "degraded") expected.push(topic.split("/").at(-2) as string);
      } catch {
        // A state we cannot read is no device to wait for.
      }
    }
    expected.sort();
  }
  const answers = new Map<string, { ok: boolean; error?: string }>();
  const resultFilter = `${r.root}/${r.site}/+/cmd/result`;
  let wake: () => void = () => undefined;
  const onMessage = (topic: string, payload: Buffer): void => {
    if (!topic.endsWith("/cmd/result")) return;
    try {
      const a = JSON.parse(payload.toString("utf8")) as { id?: unknown; ok?: unknown; error?: unknown };
      if (a.id !== id || typeof a.ok !== "boolean") return;
      answers.set(topic.split("/").at(-3) as string, typeof a.error === "string" ? { ok: a.ok, error: a.error } : { ok: a.ok });
      if (expected.every((d) => answers.has(d))) wake();
    } catch {
      // Not an answer of ours.
    }
  };
  client.on("message", onMessage);
  try {
    await client.subscribeAsync(resultFilter, { qos: 1 });
    const nowS = Math.floor(r.nowMs / 1000);
    const cmd = { type: MESSAGE_TYPE.command, id, site: r.site, device: r.device, op: r.op, args: {}, iat: nowS, exp: nowS + r.ttlS };
    await publishAsync(client, commandTopic(r.root, r.site, r.device), signCentreMessage(privateKey, cmd), false);
    if (!expected.every((d) => answers.has(d))) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, r.timeoutMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  } finally {
    client.removeListener("message", onMessage);
  }
  return { id, expected, answers, silent: expected.filter((d) => !answers.has(d)) };
}
