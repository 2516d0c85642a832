/**
 * What the peer-comparison benchmarks share: a free loopback port for a peer server, and awaiting a line of
 * a child process's output (a server's "ready" line, a client worker's progress) with a time limit.
 */
import { type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { createInterface } from 'node:readline';

/** A port free on 127.0.0.1 right now (the peer binds it next; benches run alone, so the race is harmless). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export function lines(child: ChildProcess, stream: 'stdout' | 'stderr'): AsyncIterator<string> {
  return createInterface({ input: child[stream]! })[Symbol.asyncIterator]();
}

/** The next line from `it` that matches, or an error after `waitMs` or at the end of the output. */
export async function waitLine(it: AsyncIterator<string>, match: (s: string) => boolean, what: string, waitMs: number): Promise<string> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const left = deadline - Date.now();
    let timer!: NodeJS.Timeout;
    const next = await Promise.race([
      it.next(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), left))),
    ]).finally(() => clearTimeout(timer));
    if (next.done === true) throw new Error(`stream ended before ${what}`);
    if (match(next.value)) return next.value;
  }
}
