import type { Dispatcher } from '../../../src/protocols/nats/parser.js';

/** A parser event as plain data: payloads and header blocks as latin1 strings so deepEqual shows them. */
export type Event = Array<string | number | undefined>;

/** A Dispatcher that records every op, server → client ones included. */
export class Recorder implements Dispatcher {
  readonly events: Event[] = [];
  /** Payload buffers as received, to check they are views. */
  readonly payloads: Buffer[] = [];
  onConnect(json: string): void {
    this.events.push(['connect', json]);
  }
  onPub(subject: string, reply: string | undefined, payload: Buffer): void {
    this.payloads.push(payload);
    this.events.push(['pub', subject, reply, payload.toString('latin1')]);
  }
  onHpub(subject: string, reply: string | undefined, headers: Buffer, payload: Buffer): void {
    this.payloads.push(payload);
    this.events.push(['hpub', subject, reply, headers.toString('latin1'), payload.toString('latin1')]);
  }
  onSub(subject: string, queue: string | undefined, sid: string): void {
    this.events.push(['sub', subject, queue, sid]);
  }
  onUnsub(sid: string, max: number | undefined): void {
    this.events.push(['unsub', sid, max]);
  }
  onPing(): void {
    this.events.push(['ping']);
  }
  onPong(): void {
    this.events.push(['pong']);
  }
  onInfo(json: string): void {
    this.events.push(['info', json]);
  }
  onMsg(subject: string, sid: string, reply: string | undefined, payload: Buffer): void {
    this.events.push(['msg', subject, sid, reply, payload.toString('latin1')]);
  }
  onHmsg(subject: string, sid: string, reply: string | undefined, headers: Buffer, payload: Buffer): void {
    this.events.push(['hmsg', subject, sid, reply, headers.toString('latin1'), payload.toString('latin1')]);
  }
  onOk(): void {
    this.events.push(['+ok']);
  }
  onErr(message: string): void {
    this.events.push(['-err', message]);
  }
}

/** Only the client → server ops: what a server's session implements. */
export class ServerSideRecorder implements Dispatcher {
  readonly events: Event[] = [];
  onConnect(json: string): void { this.events.push(['connect', json]); }
  onPub(subject: string, reply: string | undefined, payload: Buffer): void { this.events.push(['pub', subject, reply, payload.toString('latin1')]); }
  onHpub(subject: string, reply: string | undefined, headers: Buffer, payload: Buffer): void { this.events.push(['hpub', subject, reply, headers.toString('latin1'), payload.toString('latin1')]); }
  onSub(subject: string, queue: string | undefined, sid: string): void { this.events.push(['sub', subject, queue, sid]); }
  onUnsub(sid: string, max: number | undefined): void { this.events.push(['unsub', sid, max]); }
  onPing(): void { this.events.push(['ping']); }
  onPong(): void { this.events.push(['pong']); }
}
