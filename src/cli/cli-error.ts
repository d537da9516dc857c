/** A usage or input error a verb reports to the user as one line, without a stack trace. */
export class CliError extends Error {
  readonly code = "E_CLI";
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = "CliError";
  }
}
