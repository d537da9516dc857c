/**
 * Topics of the centre -> fleet feeds (docs/contract.md §5.7, contract): status snapshots and deltas per site, the
 * issuer key set, commands. Device topics (entry, state, cmd, cmd/result, event) are in topics.ts.
 */

/** Retained, signed: the current snapshot of a site. */
export const statusManifestTopic = (root: string, site: string): string => `${root}/status/${site}/manifest`;

/** Retained, unsigned (the manifest carries its SHA-256): chunk `index` (0-based) of snapshot `version`. */
export const statusChunkTopic = (root: string, site: string, version: number, index: number): string =>
  `${root}/status/${site}/snapshot/${version}/${index}`;

/** Every chunk of snapshot `version`. */
export const statusChunkFilter = (root: string, site: string, version: number): string =>
  `${root}/status/${site}/snapshot/${version}/+`;

/** Retained, signed: delta `seq` since the current snapshot. Cleared when the next snapshot is published. */
export const statusDeltaTopic = (root: string, site: string, seq: number): string => `${root}/status/${site}/delta/${seq}`;

export const statusDeltaFilter = (root: string, site: string): string => `${root}/status/${site}/delta/+`;

/** Retained, signed: the pass issuer key set of the whole fleet. */
export const keysTopic = (root: string): string => `${root}/keys`;

/** Commands for one device, or for every device of a site (`all`). */
export const commandTopic = (root: string, site: string, device: string): string => `${root}/${site}/${device}/cmd`;

/** Parses `<root>/status/<site>/snapshot/<version>/<index>`; null for anything else. */
export function parseChunkTopic(root: string, topic: string): { site: string; version: number; index: number } | null {
  const m = /^status\/([a-z0-9-]{1,64})\/snapshot\/(\d{1,16})\/(\d{1,6})$/.exec(
    topic.startsWith(root + "/") ? topic.slice(root.length + 1) : "",
  );
  if (m === null) return null;
  return { site: m[1] as string, version: Number(m[2]), index: Number(m[3]) };
}
