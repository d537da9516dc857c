/**
 * Rules that tie several keys together, which JSON Schema cannot say clearly. Each problem names every key involved
 * and, where there is more than one, every way out.
 */
import { pseudonymKeyProblem } from "../contract/pseudonym-key.js";
import type { Config } from "./config.js";

const LOOPBACK_NAMES = new Set(["localhost", "ip6-localhost", "ip6-loopback"]);

/** True when the host can only be this machine: `localhost`, 127.0.0.0/8, ::1. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (LOOPBACK_NAMES.has(h) || h.endsWith(".localhost")) return true;
  if (h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  if (/^::ffff:127\.\d+\.\d+\.\d+$/.test(h)) return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** True when entries would leave the device unencrypted: `mqtt://` or `ws://` to a host other than this one. */
export function isPlaintextRemote(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // The schema checked the scheme; a URL Node cannot parse is refused by the client, not judged here.
    return false;
  }
  if (u.protocol !== "mqtt:" && u.protocol !== "ws:" && u.protocol !== "tcp:") return false;
  return !isLoopbackHost(u.hostname);
}

/** Every cross-key problem of a schema-valid configuration, each naming its keys; empty when there is none. */
export function crossKeyProblems(c: Config): string[] {
  const problems: string[] = [];
  if (c.relay.maxPulseMs < c.relay.pulseMs) {
    problems.push(
      `relay.maxPulseMs (${c.relay.maxPulseMs}) is smaller than relay.pulseMs (${c.relay.pulseMs}): the longest release cannot be shorter than one pulse`,
    );
  }
  if (c.pseudonymize !== undefined) {
    const p = pseudonymKeyProblem(c.pseudonymize.key);
    if (p !== null) problems.push(`pseudonymize.key: ${p}`);
  }
  if (c.pseudonymize === undefined && !c.mqtt.allowPlaintext && isPlaintextRemote(c.mqtt.url)) {
    problems.push(
      `mqtt.url: entries carry clear citizen IDs (no pseudonymize.key) and ${c.mqtt.url} is not encrypted; ` +
        "use mqtts:// or wss:// (TLS), or set pseudonymize.key; mqtt.allowPlaintext: true accepts the risk",
    );
  }
  const m = c.mqtt;
  if (m.password !== undefined && m.username === undefined) {
    problems.push("mqtt.password: given without mqtt.username (the broker would ignore it)");
  }
  const tlsUrl = m.url.startsWith("mqtts://") || m.url.startsWith("wss://");
  for (const k of ["ca", "cert", "key"] as const) {
    if (m[k] !== undefined && !tlsUrl) problems.push(`mqtt.${k}: TLS file given but mqtt.url is not mqtts:// or wss:// (${m.url})`);
  }
  problems.push(...gpioPinProblems(c));
  return problems;
}

/** One GPIO line serves one purpose: sysfs would let the door contact turn the relay's line into an input. */
function gpioPinProblems(c: Config): string[] {
  const uses: Array<[string, number | undefined]> = [
    ["relay.pin", c.relay.type === "gpio" ? c.relay.pin : undefined],
    ["door.contact.pin", c.doorContact?.pin],
    ["indicator.green", c.indicator.green],
    ["indicator.red", c.indicator.red],
    ["indicator.buzzer", c.indicator.buzzer],
  ];
  const seen = new Map<number, string>();
  const problems: string[] = [];
  for (const [key, pin] of uses) {
    if (pin === undefined) continue;
    const first = seen.get(pin);
    if (first !== undefined) problems.push(`${key}: GPIO${pin} is already ${first}; each line can do one thing`);
    else seen.set(pin, key);
  }
  return problems;
}
