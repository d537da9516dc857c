/**
 * The validated device configuration. Its shape is generated from device-config/schema.json (the one source of
 * truth) into config.generated.ts by `npm run gen:config`; never write a key here by hand. `Config` is that file
 * shape, defaults filled in, with one normalisation applied by validateConfig: `door` given as an object becomes
 * its name in `door` and its contact in `doorContact` (defaults cannot live inside the schema's anyOf).
 */
import type { DeviceConfigFile } from "./config.generated.js";

/** The door as the file may give it: an object with its name and contact. */
type DoorObject = Exclude<DeviceConfigFile["door"], string>;

/** `door.contact` and `door.heldOpenMs` of the file, defaults filled. */
export type DoorContactConfig = Required<NonNullable<DoorObject["contact"]>> & { readonly heldOpenMs: number };

/** The validated device configuration, defaults filled in, `door` normalised. */
export type Config = Omit<DeviceConfigFile, "door"> & {
  readonly door: string;
  /** Absent: no door contact. */
  readonly doorContact?: DoorContactConfig;
};

export type { DeviceConfigFile };

/**
 * Where the configuration came from: a file, the embedded simulator default, or nothing yet (`absent`: the file is
 * missing but provisioning keys sit beside it, so the gate starts in provisioning mode and writes `path`).
 */
export type ConfigSource =
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "absent"; readonly path: string }
  | { readonly kind: "embedded" };

export interface LoadedConfig {
  readonly config: Config;
  readonly source: ConfigSource;
}

/** One scanner's settings: `scanner`, or an item of `scanner.also`. */
export type ScannerConfig = Config["scanner"];

/** `scanner.camera`: where frames come from and how they are decoded (type camera only). */
export type CameraSettings = ScannerConfig["camera"];

/**
 * `scanner.also`: the schema only says "objects" (it cannot refer to `scanner` from inside it), but
 * validateConfig has checked each item against the scanner keys and filled its defaults.
 */
export function alsoScanners(c: Config): readonly ScannerConfig[] {
  return c.scanner.also as readonly ScannerConfig[];
}
