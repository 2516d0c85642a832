/**
 * The logger factory. `json` writes one pino JSON object per line to stdout (for collectors); `pretty` formats
 * the same events as one readable line each, coloured when stdout is a terminal.
 *
 * Both write synchronously: log volume is low (lifecycle, connection errors — never per message), and a
 * synchronous write means the last line before `process.exit` (a start failure, "stopped") is never lost.
 * pino-pretty runs as an in-process stream rather than a worker-thread transport for the same reason.
 */
import { pino, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

export type { Logger } from 'pino';
export type LogFormat = 'pretty' | 'json';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** File descriptor to write to; stdout unless a test says otherwise. */
  fd?: number;
  /** Colour pretty output; defaults to whether the descriptor is a terminal. */
  colorize?: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  const fd = options.fd ?? 1;
  const base = { level: options.level, base: { pid: process.pid } };
  if (options.format === 'json') return pino(base, pino.destination({ dest: fd, sync: true }));
  const stream = pinoPretty({
    destination: fd,
    sync: true,
    colorize: options.colorize ?? (fd === 1 ? Boolean(process.stdout.isTTY) : false),
    translateTime: 'SYS:HH:MM:ss.l',
    // Fields on the same line as the message: a terminal reads one event per line.
    singleLine: true,
    // The pid is noise on a terminal; the JSON format keeps it for collectors.
    ignore: 'pid,hostname',
  });
  return pino(base, stream);
}
