/**
 * An in-memory connection to a protocol listener, for session tests on exact frames: the server end is handed
 * to `listener.handle` as the session's Duplex (where a TCP socket would go), the client end is a RawClient.
 * There are no kernel buffers in between, so each write of the server end arrives as one chunk
 * (`RawClient.arrivals` counts the session's writes). Ending either end ends the other, as a socket's FIN would.
 */
import { Duplex } from 'node:stream';
import { RawClient } from './raw-client.js';

/** What the protocol listeners offer for a connection accepted elsewhere. */
export interface DuplexHandler {
  handle(stream: Duplex, peerAddress?: string, peerPort?: number): unknown;
}

/** Opens a session on `listener` over an in-memory pair; `peerAddress`/`peerPort` are what it is told of its peer. */
export function connectInMemory(listener: DuplexHandler, peerAddress?: string, peerPort?: number): RawClient<Duplex> {
  let client!: Duplex;
  const server = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      client.push(chunk);
      cb();
    },
    final(cb) {
      client.push(null);
      cb();
    },
  });
  client = new Duplex({
    // Once the server ended its side, this one ends too and the pair closes: RawClient sees `ended`.
    allowHalfOpen: false,
    read() {},
    write(chunk: Buffer, _enc, cb) {
      server.push(chunk);
      cb();
    },
    final(cb) {
      server.push(null);
      cb();
    },
  });
  const raw = RawClient.over(client);
  listener.handle(server, peerAddress, peerPort);
  return raw;
}
