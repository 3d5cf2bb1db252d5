/**
 * A failure the CLI explains in one line (bad arguments, a missing key, a file it cannot read).
 * Server answers arrive as the client's ApiRequestError instead.
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    /** Process exit code. @defaultValue 1 */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
