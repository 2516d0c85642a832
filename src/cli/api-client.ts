/**
 * ApiClient: the admin verbs' one way to the broker, its HTTP API (docs/http-api.md). Every verb finds the
 * broker by `--url`, else TRIBUTARY_URL, else http://127.0.0.1:8080. API errors come back as
 * `{error: {code, message}}` and become CliErrors that keep the broker's code, so a script can match on it.
 */
import { CliError } from './cli-error.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';
const REQUEST_TIMEOUT_MS = 30_000;

/** One Server-Sent Event as the API sends it: `event: <name>` and one `data:` line of JSON. */
export interface ServerEvent {
  event: string;
  data: string;
}

export class ApiClient {
  readonly baseUrl: string;

  constructor(url: string | undefined) {
    const chosen = url ?? process.env['TRIBUTARY_URL'] ?? DEFAULT_URL;
    try {
      this.baseUrl = new URL(chosen).toString().replace(/\/$/, '');
    } catch {
      throw new CliError(`--url: '${chosen}' is not a URL (example: http://127.0.0.1:8080)`, 2);
    }
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }

  delete(path: string, body?: unknown): Promise<void> {
    return this.request<void>('DELETE', path, body);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    if (!res.ok) throw apiError(res.status, text);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /**
   * Follows a Server-Sent Events route, calling `onEvent` for each event until it returns false, the server
   * ends the stream, or `signal` aborts. `onOpen` runs once the server has answered: the API subscribes
   * before it sends the headers, so from then on nothing published is missed. Resolves when it stops.
   */
  async events(path: string, onEvent: (e: ServerEvent) => boolean | void, signal: AbortSignal, onOpen?: () => void): Promise<void> {
    const res = await this.send(path, { headers: { accept: 'text/event-stream' }, signal });
    if (!res.ok) throw apiError(res.status, await res.text());
    onOpen?.();
    if (res.body === null) return;
    const decoder = new TextDecoder();
    let buffered = '';
    let event = 'message';
    let data: string[] = [];
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).replace(/\r$/, '');
          buffered = buffered.slice(nl + 1);
          if (line === '') {
            // A blank line ends an event; comments (`: subscribed`) carry no data and are not events.
            if (data.length > 0 && onEvent({ event, data: data.join('\n') }) === false) return;
            event = 'message';
            data = [];
          } else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          else if (line.startsWith('event:')) event = line.slice(6).trim();
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
  }

  private async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(this.baseUrl + path, init);
    } catch (err) {
      if (init.signal?.aborted === true && (init.signal.reason as Error | undefined)?.name !== 'TimeoutError') throw err;
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new CliError(`cannot reach the broker at ${this.baseUrl} (${cause}); is \`tributary serve\` running? Set --url or TRIBUTARY_URL.`);
    }
  }
}

function apiError(status: number, text: string): CliError {
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error !== undefined) return new CliError(`${body.error.message ?? 'request failed'} (${body.error.code ?? status})`);
  } catch {
    // Not JSON: fall through to the status line.
  }
  return new CliError(`the broker answered HTTP ${status}${text === '' ? '' : `: ${text.slice(0, 200)}`}`);
}

/** Path segment encoding: names may hold `/`, `#`, `>` and spaces. */
export function seg(name: string): string {
  return encodeURIComponent(name);
}
