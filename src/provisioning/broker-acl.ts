/**
 * The Mosquitto `acl_file` block for one gate's login. The centre trusts the topic as the device's identity
 * (docs/contract.md §5), so this ACL is what makes that true: the login writes only its own device's topics and reads only its
 * commands (own and site-wide), its site's status batches and the issuer key set; it shares the site's used passes.
 */
import { deviceTopic } from "../contract/topics.js";

export interface AclSubject {
  readonly username: string;
  readonly root: string;
  readonly site: string;
  readonly device: string;
}

/** The topics the device writes, those it reads, and the site topics it both reads and writes. */
export function deviceTopicGrants(s: AclSubject): { write: string[]; read: string[]; readwrite: string[] } {
  const own = (k: Parameters<typeof deviceTopic>[3]): string => deviceTopic(s.root, s.site, s.device, k);
  return {
    write: [own("entry"), own("state"), own("health"), own("event"), own("cmd/result")],
    read: [
      own("cmd"),
      deviceTopic(s.root, s.site, "all", "cmd"),
      // Status snapshots and deltas for the gate's site (manifest, snapshot chunks, deltas).
      `${s.root}/status/${s.site}/#`,
      `${s.root}/keys`,
    ],
    // Passes used at any gate of the site (single use across a site). `all` is reserved as a device name, so
    // writing here cannot pass for another device's entries.
    readwrite: [`${s.root}/${s.site}/all/used-passes`],
  };
}

/** The acl_file lines for the device's login (a `user` block; append it to the broker's acl_file). */
export function mosquittoAclBlock(s: AclSubject): string {
  const { write, read, readwrite } = deviceTopicGrants(s);
  return [
    `# qrgate gate ${s.site}/${s.device}`,
    `user ${s.username}`,
    ...write.map((t) => `topic write ${t}`),
    ...read.map((t) => `topic read ${t}`),
    ...readwrite.map((t) => `topic readwrite ${t}`),
    "",
  ].join("\n");
}
