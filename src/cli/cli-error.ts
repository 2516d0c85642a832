/**
 * CliError: a failure the user can act on (a refused request, an unreachable broker, a bad file). main.ts
 * prints its message and exits with its code: 1 for an error, 2 for a usage error (commander's own usage
 * errors also exit 2), so scripts can tell "you called it wrong" from "it did not work".
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A usage error found after commander parsed the line (a bad value, a missing combination). */
export function usageError(message: string): CliError {
  return new CliError(message, 2);
}
