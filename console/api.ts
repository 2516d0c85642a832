/**
 * The console's only way to the server: JSON requests to /api with the API's error shape turned into ApiError.
 * A 404 with TRIB_HTTP_ROUTE_NOT_FOUND means this server has no such route (an older or partial build), which
 * pages show as "not available" rather than as a failure.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** True when the route itself does not exist on this server. */
  get notAvailable(): boolean {
    return this.status === 404 && this.code === 'TRIB_HTTP_ROUTE_NOT_FOUND';
  }
}

const TIMEOUT_MS = 15_000;

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: { accept: 'application/json' }, signal: AbortSignal.timeout(TIMEOUT_MS) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { accept: 'application/json', 'content-type': 'application/json' };
  }
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, 'NETWORK', `the server did not answer (${err instanceof Error ? err.message : String(err)})`);
  }
  const text = await res.text();
  let json: unknown = undefined;
  if (text !== '') {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  if (!res.ok) {
    const error = (json as { error?: { code?: string; message?: string; field?: string } } | undefined)?.error;
    throw new ApiError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? `${method} ${path}: HTTP ${res.status}`, error?.field);
  }
  return json as T;
}

export const get = <T>(path: string): Promise<T> => api<T>('GET', path);

/** Encodes one path segment (stream names, subjects with `>`, group ids). */
export const seg = (s: string): string => encodeURIComponent(s);
