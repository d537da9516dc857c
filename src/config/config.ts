import type { Policy } from "../core/policy.js";
import type { Suffix } from "../drivers/scanner/line-framer.js";

/** The validated device configuration, defaults filled in (device-config/schema.json is the source of truth). */
export interface Config {
  readonly site: string;
  readonly device: string;
  readonly door: string;
  readonly scanner: {
    readonly type: "serial" | "hid" | "camera" | "stdin" | "sim";
    readonly path?: string;
    readonly baudRate: number;
    readonly suffix: Suffix;
    readonly interByteTimeoutMs: number;
    readonly maxCodeBytes: number;
    readonly retryMs: number;
  };
  readonly relay: {
    readonly type: "gpio" | "sim";
    readonly pin?: number;
    readonly activeLow: boolean;
    readonly pulseMs: number;
    readonly maxPulseMs: number;
  };
  readonly mqtt: {
    readonly url: string;
    readonly username?: string;
    readonly password?: string;
    readonly ca?: string;
    readonly cert?: string;
    readonly key?: string;
    readonly root: string;
    readonly reconnectMs: number;
    readonly keepaliveS: number;
  };
  readonly store: { readonly path: string; readonly retentionDays: number };
  readonly passes: { readonly issuerKeys?: string; readonly skewS: number };
  readonly centre: { readonly publicKey?: string };
  readonly policy: Policy;
  readonly pseudonymize?: { readonly key: string };
  readonly budgetMs: number;
  readonly dedupMs: number;
  readonly log: { readonly level: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent" };
}

/** Where the configuration came from: a file, or the embedded simulator default. */
export type ConfigSource = { readonly kind: "file"; readonly path: string } | { readonly kind: "embedded" };

export interface LoadedConfig {
  readonly config: Config;
  readonly source: ConfigSource;
}
