/**
 * TcpListener: the TCP side every protocol listener shares — bind, report the address actually bound (the
 * real port when 0 was asked for), hand each accepted socket to the protocol, stop accepting on close. A
 * protocol's own `close()` ends its sessions (with its own goodbye) after calling `stop()` here.
 *
 * A socket handler that throws has its socket destroyed and the failure logged once; it never reaches the
 * server's 'connection' emitter, where it would crash the process.
 */
import { createServer, type Server, type Socket } from 'node:net';

export interface BoundAddress {
  address: string;
  port: number;
}

export interface TcpListenerLogger {
  error(obj: object, msg: string): void;
}

export class TcpListener {
  private server: Server | null = null;

  constructor(
    /** Protocol name for log lines (`amqp listener error`). */
    private readonly name: string,
    private readonly onSocket: (socket: Socket) => void,
    private readonly logger: TcpListenerLogger,
  ) {}

  get listening(): boolean {
    return this.server !== null;
  }

  /** Binds and resolves with the bound address; rejects (nothing left open) when the bind fails. */
  listen(host: string, port: number): Promise<BoundAddress> {
    if (this.server !== null) return Promise.reject(new Error(`${this.name} listener already listening`));
    return new Promise((resolve, reject) => {
      const srv = createServer({ noDelay: true }, (socket: Socket) => {
        try {
          this.onSocket(socket);
        } catch (err) {
          this.logger.error({ err, peer: socket.remoteAddress }, `${this.name} connection setup failed`);
          socket.destroy();
        }
      });
      srv.once('error', reject);
      srv.listen(port, host, () => {
        srv.off('error', reject);
        srv.on('error', (err) => this.logger.error({ err }, `${this.name} listener error`));
        this.server = srv;
        const a = srv.address();
        resolve(a === null || typeof a === 'string' ? { address: host, port } : { address: a.address, port: a.port });
      });
    });
  }

  /** Stops accepting. Resolves once the server has closed, i.e. after the caller has ended open connections. */
  stop(): Promise<void> {
    const srv = this.server;
    this.server = null;
    return srv === null ? Promise.resolve() : new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}
