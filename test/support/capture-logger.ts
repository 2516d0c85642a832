/**
 * A logger for in-process listeners in tests: every entry kept (level, fields, message) so a test can assert
 * on the log line a failure must leave. TEST_LOG=1 also prints them.
 */
export interface LogEntry {
  level: string;
  obj: object;
  msg: string;
}

type LogFn = (obj: object, msg?: string) => void;

export function captureLogger(): { logger: { debug: LogFn; info: LogFn; warn: LogFn; error: LogFn }; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const print = process.env['TEST_LOG'] !== undefined || process.env['KAFKA_TEST_LOG'] !== undefined;
  const at =
    (level: string): LogFn =>
    (obj, msg) => {
      entries.push({ level, obj, msg: msg ?? '' });
      if (print && level !== 'debug') console.error(level, msg, obj);
    };
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, entries };
}
