/**
 * ConnectionRegistry: every open client connection of every protocol, so the HTTP API and the CLI can list
 * them and close one, and the server can report totals. Protocol listeners register a connection when they
 * accept it and unregister it when it closes; the registry never touches a socket itself — closing goes
 * through the `close(reason)` the protocol gave, so each protocol says goodbye its own way (AMQP
 * connection.close 320, MQTT 5 DISCONNECT 0x98, NATS -ERR, Kafka just closes).
 *
 * Cost on the hot paths: none here. A session keeps its message counters as plain number fields (`traffic`)
 * that it increments itself; byte counts are the transport's own (net.Socket bytesRead/bytesWritten, which
 * Node keeps anyway). Both are read only when someone lists connections or asks for totals. When a
 * connection goes, its counts are folded into per-protocol totals so cumulative figures never go backwards.
 */

export const CONNECTION_PROTOCOLS = ['kafka', 'amqp', 'nats', 'mqtt', 'http'] as const;
export type ConnectionProtocol = (typeof CONNECTION_PROTOCOLS)[number];

/** Message counters a session increments (plain fields: no call, no allocation per message). */
export interface ConnectionTraffic {
  messagesIn: number;
  messagesOut: number;
}

/** What a protocol hands the registry for one accepted connection. */
export interface ConnectionSource {
  protocol: ConnectionProtocol;
  remoteAddress?: string;
  remotePort?: number;
  /** Read when listed: the principal changes once the client logs in. */
  principal?: () => string;
  /** Read when listed: the protocol's client identifier, where it has one (Kafka client.id, MQTT, NATS name). */
  clientId?: () => string | null | undefined;
  /** The session's own counters; absent when the protocol counts nothing (bytes are still reported). */
  traffic?: ConnectionTraffic;
  /** The transport's byte counters (a net.Socket has both); absent for an in-memory stream. */
  transport?: { readonly bytesRead?: number; readonly bytesWritten?: number };
  /** Closes the connection with the protocol's own goodbye; the protocol unregisters it once closed. */
  close(reason: string): void;
}

/** One connection as listed. */
export interface ConnectionInfo {
  id: string;
  protocol: ConnectionProtocol;
  remoteAddress: string | null;
  remotePort: number | null;
  principal: string;
  clientId: string | null;
  /** ms since the epoch. */
  connectedAt: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

export interface TrafficTotals {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

/** A registered connection: the handle a protocol keeps to unregister it. */
export class Connection {
  constructor(
    readonly id: string,
    readonly source: ConnectionSource,
    readonly connectedAt: number,
  ) {}

  get protocol(): ConnectionProtocol {
    return this.source.protocol;
  }

  get messagesIn(): number {
    return this.source.traffic?.messagesIn ?? 0;
  }

  get messagesOut(): number {
    return this.source.traffic?.messagesOut ?? 0;
  }

  get bytesIn(): number {
    return this.source.transport?.bytesRead ?? 0;
  }

  get bytesOut(): number {
    return this.source.transport?.bytesWritten ?? 0;
  }

  info(): ConnectionInfo {
    const s = this.source;
    return {
      id: this.id,
      protocol: s.protocol,
      remoteAddress: s.remoteAddress ?? null,
      remotePort: s.remotePort ?? null,
      principal: s.principal?.() ?? 'anonymous',
      clientId: s.clientId?.() || null,
      connectedAt: this.connectedAt,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
    };
  }
}

function zeroTotals(): TrafficTotals {
  return { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 };
}

export class ConnectionRegistry {
  private readonly open = new Map<string, Connection>();
  /** Counts of connections that have closed, per protocol (live ones are read from their sessions). */
  private readonly retired = new Map<ConnectionProtocol, TrafficTotals>();
  /** Connections ever accepted, per protocol. */
  private readonly accepted = new Map<ConnectionProtocol, number>();
  private nextId = 1;

  constructor(private readonly now: () => number = Date.now) {}

  /** Registers an accepted connection; keep the result to unregister it. Ids are `<protocol>-<n>`, never reused. */
  register(source: ConnectionSource): Connection {
    const c = new Connection(`${source.protocol}-${this.nextId++}`, source, this.now());
    this.open.set(c.id, c);
    this.accepted.set(source.protocol, (this.accepted.get(source.protocol) ?? 0) + 1);
    return c;
  }

  /** The connection closed: its counts join the protocol's totals. Idempotent. */
  unregister(c: Connection | null | undefined): void {
    if (c === null || c === undefined || !this.open.delete(c.id)) return;
    let t = this.retired.get(c.protocol);
    if (t === undefined) {
      t = zeroTotals();
      this.retired.set(c.protocol, t);
    }
    t.messagesIn += c.messagesIn;
    t.messagesOut += c.messagesOut;
    t.bytesIn += c.bytesIn;
    t.bytesOut += c.bytesOut;
  }

  get(id: string): Connection | undefined {
    return this.open.get(id);
  }

  get size(): number {
    return this.open.size;
  }

  /** Every open connection (optionally of one protocol), oldest first. */
  list(protocol?: ConnectionProtocol): ConnectionInfo[] {
    const out: ConnectionInfo[] = [];
    for (const c of this.open.values()) if (protocol === undefined || c.protocol === protocol) out.push(c.info());
    return out;
  }

  /** Asks the connection's protocol to close it. False when no such connection is open. */
  close(id: string, reason: string): boolean {
    const c = this.open.get(id);
    if (c === undefined) return false;
    c.source.close(reason);
    return true;
  }

  /** Open connections per protocol (every protocol listed, zero when none). */
  counts(): { [P in ConnectionProtocol]: number } {
    const out = { kafka: 0, amqp: 0, nats: 0, mqtt: 0, http: 0 };
    for (const c of this.open.values()) out[c.protocol]++;
    return out;
  }

  /** Connections ever accepted, per protocol. */
  acceptedCount(protocol: ConnectionProtocol): number {
    return this.accepted.get(protocol) ?? 0;
  }

  /** Cumulative traffic (closed connections plus open ones), per protocol or over all protocols. */
  totals(protocol?: ConnectionProtocol): TrafficTotals {
    const out = zeroTotals();
    for (const [p, t] of this.retired) {
      if (protocol !== undefined && p !== protocol) continue;
      out.messagesIn += t.messagesIn;
      out.messagesOut += t.messagesOut;
      out.bytesIn += t.bytesIn;
      out.bytesOut += t.bytesOut;
    }
    for (const c of this.open.values()) {
      if (protocol !== undefined && c.protocol !== protocol) continue;
      out.messagesIn += c.messagesIn;
      out.messagesOut += c.messagesOut;
      out.bytesIn += c.bytesIn;
      out.bytesOut += c.bytesOut;
    }
    return out;
  }
}
