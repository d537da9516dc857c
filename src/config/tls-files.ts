import { createPrivateKey, X509Certificate } from "node:crypto";
import { ConfigError } from "./config-error.js";

/**
 * A CA, certificate or key file that is not PEM would otherwise surface only as an "mqtt error" on every
 * reconnect, with the gate running and never reaching the centre: refuse it at start, naming the key.
 */
export function checkTlsFiles(tls: { ca?: Buffer; cert?: Buffer; key?: Buffer }, paths: { readonly ca?: string; readonly cert?: string; readonly key?: string }): void {
  const parse = <T>(key: "ca" | "cert" | "key", what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      throw new ConfigError(`mqtt.${key}`, [`${paths[key] ?? ""} is not a PEM ${what} (${(e as Error).message})`]);
    }
  };
  if (tls.ca !== undefined) parse("ca", "CA certificate", () => new X509Certificate(tls.ca as Buffer));
  const key = tls.key === undefined ? undefined : parse("key", "private key (without a passphrase)", () => createPrivateKey(tls.key as Buffer));
  if (tls.cert !== undefined) {
    const cert = parse("cert", "certificate", () => new X509Certificate(tls.cert as Buffer));
    if (key !== undefined && !cert.checkPrivateKey(key)) {
      throw new ConfigError("mqtt.cert", [`${paths.cert ?? ""} does not belong to the private key in mqtt.key ${paths.key ?? ""}`]);
    }
  }
}
