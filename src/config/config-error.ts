/** A configuration that cannot run, with every problem found (not just the first), each with its path. */
export class ConfigError extends Error {
  readonly code = "E_CONFIG";
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid configuration ${source}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}
