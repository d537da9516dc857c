/**
 * MQTT topic names of docs/contract.md §5 (contract). Shared by the gate and the centre; change only with a version bump.
 */
export const DEFAULT_ROOT = "qrgate/v1";

/** `<site>` and `<device>` segments; `all` is reserved for fleet-wide commands. */
export const SEGMENT_PATTERN = /^[a-z0-9-]{1,64}$/;

export function isValidSegment(s: string): boolean {
  return SEGMENT_PATTERN.test(s) && s !== "all";
}

export type DeviceTopicKind = "entry" | "state" | "health" | "event" | "cmd" | "cmd/result";

export function deviceTopic(root: string, site: string, device: string, kind: DeviceTopicKind): string {
  return `${root}/${site}/${device}/${kind}`;
}

/** Splits `<root>/<site>/<device>/<kind>`; null for anything else. */
export function parseDeviceTopic(
  root: string,
  topic: string,
): { site: string; device: string; kind: string } | null {
  if (!topic.startsWith(root + "/")) return null;
  const rest = topic.slice(root.length + 1).split("/");
  if (rest.length < 3) return null;
  const [site, device, ...kind] = rest;
  if (site === undefined || device === undefined) return null;
  return { site, device, kind: kind.join("/") };
}
