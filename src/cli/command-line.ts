import { parseArgs, type ParseArgsConfig } from "node:util";
import { CliError } from "./cli-error.js";

/** `parseArgs` whose refusals (unknown option, missing value) become one-line usage errors naming the command. */
export function parseCommandLine<T extends ParseArgsConfig>(command: string, config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    throw new CliError(`${command}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
