/**
 * A client key pair and certificate signing request for MQTT over TLS with client certificates (`--tls`). Node's
 * crypto makes keys but not CSRs; rather than add a PKCS#10/ASN.1 library to the package, this runs the `openssl` CLI,
 * which Debian and Raspberry Pi OS install by default and which the broker's admin uses to sign the request anyway.
 */
import { spawnSync } from "node:child_process";
import { chmodSync } from "node:fs";

export class CsrError extends Error {
  readonly code = "E_CSR";
  constructor(message: string) {
    super(message);
    this.name = "CsrError";
  }
}

/**
 * Writes a P-256 private key (mode 0600) to `keyPath` and a CSR with subject CN=`commonName` to `csrPath`. With
 * Mosquitto's `use_identity_as_username true` the CN is the login, so the same acl_file block applies.
 */
export function makeClientCsr(commonName: string, keyPath: string, csrPath: string): void {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(commonName)) throw new CsrError(`a certificate name must be 1 to 64 of A-Z a-z 0-9 . _ -, got '${commonName}'`);
  // The child inherits the umask: the key file is never readable by others, not even for a moment.
  const umask = process.umask(0o077);
  const r = spawnSync(
    "openssl",
    ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyPath, "-out", csrPath, "-subj", `/CN=${commonName}`],
    { encoding: "utf8", timeout: 30_000 },
  );
  process.umask(umask);
  if (r.error !== undefined) {
    throw new CsrError(
      (r.error as NodeJS.ErrnoException).code === "ENOENT" ? "openssl not found (apt-get install openssl)" : `openssl failed: ${r.error.message}`,
    );
  }
  if (r.status !== 0) throw new CsrError(`openssl req failed: ${r.stderr.trim().split("\n")[0] ?? ""}`);
  chmodSync(keyPath, 0o600);
}
