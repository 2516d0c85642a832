/**
 * NATS client protocol parser (specs/nats/FACTS.md; nats-server server/parser.go is the model).
 *
 *   op        = ( CONNECT | PUB | HPUB | SUB | UNSUB | PING | PONG | INFO | MSG | HMSG | +OK | -ERR ), case-insensitive
 *   line      = op [ (SP|TAB)+ args ] CRLF                                   (a bare LF is accepted, as nats-server does)
 *   PUB       subject [reply-to] #bytes CRLF payload CRLF
 *   HPUB      subject [reply-to] #header-bytes #total-bytes CRLF headers payload CRLF
 *   SUB       subject [queue] sid          UNSUB sid [max]        CONNECT {json}        PING / PONG
 *   INFO {json}   MSG subject sid [reply-to] #bytes   HMSG subject sid [reply-to] #hdr #total   +OK   -ERR '<text>'
 *
 * A byte state machine over chunks: it keeps its state between `parse()` calls, so any split of the stream gives
 * the same events. The op name is read byte by byte (a bad byte is refused at once, like parser.go); the
 * argument line is found with one `indexOf('\n')` and its arguments are sliced, not split into arrays; the
 * payload is jumped over by its declared size and handed to the dispatcher as a view of the chunk (no copy).
 * Only a payload that straddles reads is assembled, into one buffer of its exact size.
 *
 * Limits: an argument line longer than `maxControlLine` is refused as soon as it is seen (even before its CRLF
 * arrives), so a client cannot make the parser buffer more than that; a PUB/HPUB/MSG/HMSG size over
 * `maxPayload` is refused before any payload byte is read. Errors are NatsProtocolError with nats-server's
 * -ERR text; after one the parser refuses further input.
 *
 * Views: a payload passed to the dispatcher may be a view of the chunk given to parse() (or of the previous one
 * when only its CRLF straddled). Callers must not reuse chunk buffers; Node's socket chunks are never reused.
 */
import { NatsErr, NatsProtocolError } from './nats-error.js';

/** nats-server's default max_control_line (4 KiB). */
export const MAX_CONTROL_LINE_SIZE = 4096;
/** nats-server's default max_payload (1 MiB). */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * Receives parsed operations. The client → server ops are required; the server → client ops are optional and,
 * when a handler is absent, the op is refused as an unknown operation (a server does not accept MSG).
 */
export interface Dispatcher {
  onConnect(json: string): void;
  onPub(subject: string, reply: string | undefined, payload: Buffer): void;
  onHpub(subject: string, reply: string | undefined, headers: Buffer, payload: Buffer): void;
  onSub(subject: string, queue: string | undefined, sid: string): void;
  onUnsub(sid: string, max: number | undefined): void;
  onPing(): void;
  onPong(): void;
  onInfo?(json: string): void;
  onMsg?(subject: string, sid: string, reply: string | undefined, payload: Buffer): void;
  onHmsg?(subject: string, sid: string, reply: string | undefined, headers: Buffer, payload: Buffer): void;
  onOk?(): void;
  onErr?(message: string): void;
}

export interface ParserOptions {
  maxControlLine?: number;
  maxPayload?: number;
}

const enum State {
  OpName,
  Arg,
  Payload,
  EndCR,
  EndLF,
}

const enum Op {
  None,
  Connect,
  Pub,
  Hpub,
  Sub,
  Unsub,
  Ping,
  Pong,
  Info,
  Msg,
  Hmsg,
  Ok,
  Err,
}

const CR = 13;
const LF = 10;
const SPACE = 32;
const TAB = 9;

/** An op name folded into a number: 7 bits per lower-cased byte, at most 7 bytes (CONNECT). */
function opKey(name: string): number {
  let k = 0;
  for (let i = 0; i < name.length; i++) k = k * 128 + name.charCodeAt(i);
  return k;
}

const OPS = new Map<number, Op>([
  [opKey('connect'), Op.Connect],
  [opKey('pub'), Op.Pub],
  [opKey('hpub'), Op.Hpub],
  [opKey('sub'), Op.Sub],
  [opKey('unsub'), Op.Unsub],
  [opKey('ping'), Op.Ping],
  [opKey('pong'), Op.Pong],
  [opKey('info'), Op.Info],
  [opKey('msg'), Op.Msg],
  [opKey('hmsg'), Op.Hmsg],
  [opKey('+ok'), Op.Ok],
  [opKey('-err'), Op.Err],
]);
const MAX_OP_LEN = 7;

/** Ops that must be followed by arguments (a space or tab after the name). */
function needsArgs(op: Op): boolean {
  return op !== Op.Ping && op !== Op.Pong && op !== Op.Ok;
}

export class Parser {
  readonly maxControlLine: number;
  readonly maxPayload: number;
  private readonly d: Dispatcher;

  private state = State.OpName;
  private opKey = 0;
  private opLen = 0;
  private op = Op.None;
  private failed = false;

  // An argument line split across reads, bounded by maxControlLine (+2 for its CRLF).
  private argBuf: Buffer | null = null;
  private argLen = 0;

  // Argument slices of the current line: start/end pairs, at most 6 arguments (HMSG has 5).
  private readonly argIdx = new Int32Array(14);
  private argCount = 0;

  private readonly lastSubjectBytes = Buffer.alloc(128);
  private lastSubjectLen = -1;
  private lastSubject = '';

  // The message whose payload is being read.
  private subject = '';
  private reply: string | undefined = undefined;
  private sid = '';
  private hdrSize = -1;
  private size = 0;
  private msgBuf: Buffer | null = null;
  private msgHave = 0;
  private payload: Buffer | null = null;

  constructor(dispatcher: Dispatcher, options: ParserOptions = {}) {
    this.d = dispatcher;
    this.maxControlLine = options.maxControlLine ?? MAX_CONTROL_LINE_SIZE;
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  }

  /** Bytes held for an incomplete line or payload. */
  get buffered(): number {
    return this.argLen + this.msgHave;
  }

  /** Feeds one chunk. Throws NatsProtocolError on bad input; the connection must then be closed. */
  parse(buf: Buffer): void {
    if (this.failed) throw new Error('NATS parser used after a protocol error');
    try {
      this.run(buf);
    } catch (e) {
      this.failed = true;
      throw e;
    }
  }

  private run(buf: Buffer): void {
    const n = buf.length;
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case State.OpName: {
          const c = buf[i];
          // Letters (either case), and '+'/'-' as the first byte of +OK / -ERR.
          const lower = c | 0x20;
          if ((lower >= 0x61 && lower <= 0x7a) || (this.opLen === 0 && (c === 0x2b || c === 0x2d))) {
            if (this.opLen === MAX_OP_LEN) throw this.unknownOp(i);
            this.opKey = this.opKey * 128 + (c >= 0x41 && c <= 0x5a ? lower : c);
            this.opLen++;
            i++;
            continue;
          }
          const op = this.opLen === 0 ? undefined : OPS.get(this.opKey);
          if (op === undefined) throw this.unknownOp(i);
          this.opKey = 0;
          this.opLen = 0;
          this.op = op;
          if (c === SPACE || c === TAB) {
            i++;
          } else if (c === CR || c === LF) {
            // No arguments: leave the CR/LF for the Arg state to find the end of the line.
            if (needsArgs(op)) throw this.unknownOp(i);
          } else {
            throw this.unknownOp(i);
          }
          this.state = State.Arg;
          break;
        }
        case State.Arg: {
          const nl = buf.indexOf(LF, i);
          if (nl === -1) {
            this.appendArg(buf, i, n);
            i = n;
            break;
          }
          let line = buf;
          let s = i;
          let e = nl;
          if (this.argLen > 0) {
            this.appendArg(buf, i, nl);
            line = this.argBuf as Buffer;
            s = 0;
            e = this.argLen;
            this.argLen = 0;
          }
          if (e > s && line[e - 1] === CR) e--;
          // Leading blanks after the op name are not part of the arguments (parser.go *_SPC states).
          while (s < e && (line[s] === SPACE || line[s] === TAB)) s++;
          if (e - s > this.maxControlLine) throw this.controlLine(i, e - s);
          i = nl + 1;
          this.state = State.OpName;
          this.processLine(line, s, e, i);
          if ((this.state as State) === State.Payload) i = this.startPayload(buf, i, n);
          break;
        }
        case State.Payload: {
          const msgBuf = this.msgBuf as Buffer;
          const want = this.size - this.msgHave;
          const k = want < n - i ? want : n - i;
          buf.copy(msgBuf, this.msgHave, i, i + k);
          this.msgHave += k;
          i += k;
          if (this.msgHave === this.size) {
            this.payload = msgBuf;
            this.msgBuf = null;
            this.msgHave = 0;
            this.state = State.EndCR;
          }
          break;
        }
        case State.EndCR:
          // The payload MUST be followed by CRLF (parser.go MSG_END_R → parseErr).
          if (buf[i] !== CR) throw this.unknownOp(i);
          i++;
          this.state = State.EndLF;
          break;
        case State.EndLF:
          if (buf[i] !== LF) throw this.unknownOp(i);
          i++;
          this.state = State.OpName;
          this.emitMessage(this.payload as Buffer);
          break;
      }
    }
  }

  /** Right after a PUB/HPUB/MSG/HMSG line: jump over the payload if the chunk holds it, else start assembling. */
  private startPayload(buf: Buffer, i: number, n: number): number {
    const end = i + this.size;
    if (end + 2 <= n) {
      if (buf[end] !== CR || buf[end + 1] !== LF) throw this.unknownOp(buf[end] !== CR ? end : end + 1);
      this.state = State.OpName;
      this.emitMessage(buf.subarray(i, end));
      return end + 2;
    }
    if (end <= n) {
      // Payload complete, CRLF in the next read: keep the view.
      this.payload = buf.subarray(i, end);
      this.state = State.EndCR;
      return end;
    }
    // The size was checked against maxPayload before we got here, so this allocation is bounded.
    this.msgBuf = Buffer.allocUnsafe(this.size);
    buf.copy(this.msgBuf, 0, i, n);
    this.msgHave = n - i;
    return n;
  }

  private appendArg(buf: Buffer, from: number, to: number): void {
    const add = to - from;
    if (this.argBuf === null) this.argBuf = Buffer.allocUnsafe(this.maxControlLine + 2);
    // Refuse an over-long line as soon as it is seen: nothing beyond maxControlLine (+ CRLF) is ever held.
    if (this.argLen + add > this.argBuf.length) throw this.controlLine(from, this.argLen + add);
    buf.copy(this.argBuf, this.argLen, from, to);
    this.argLen += add;
  }

  private emitMessage(payload: Buffer): void {
    this.payload = null;
    const d = this.d;
    switch (this.op) {
      case Op.Pub:
        d.onPub(this.subject, this.reply, payload);
        break;
      case Op.Hpub:
        d.onHpub(this.subject, this.reply, payload.subarray(0, this.hdrSize), payload.subarray(this.hdrSize));
        break;
      case Op.Msg:
        (d.onMsg as NonNullable<Dispatcher['onMsg']>).call(d, this.subject, this.sid, this.reply, payload);
        break;
      case Op.Hmsg:
        (d.onHmsg as NonNullable<Dispatcher['onHmsg']>).call(d, this.subject, this.sid, this.reply, payload.subarray(0, this.hdrSize), payload.subarray(this.hdrSize));
        break;
      default:
        break;
    }
  }

  /** Splits [s, e) of `line` on runs of spaces/tabs into argIdx; returns the count. */
  private splitArgs(line: Buffer, s: number, e: number, at: number): number {
    const idx = this.argIdx;
    let count = 0;
    let start = -1;
    for (let i = s; i < e; i++) {
      const c = line[i];
      if (c === SPACE || c === TAB) {
        if (start >= 0) {
          if (count === 6) throw new NatsProtocolError(NatsErr.ParserError, 'too many arguments', at);
          idx[count * 2] = start;
          idx[count * 2 + 1] = i;
          count++;
          start = -1;
        }
      } else if (start < 0) {
        start = i;
      }
    }
    if (start >= 0) {
      if (count === 6) throw new NatsProtocolError(NatsErr.ParserError, 'too many arguments', at);
      idx[count * 2] = start;
      idx[count * 2 + 1] = e;
      count++;
    }
    this.argCount = count;
    return count;
  }

  /**
   * The subject argument, reusing the previous string when the bytes repeat: a publisher mostly sends one
   * subject, and comparing a few bytes costs less than decoding (and later collecting) a string per message.
   */
  private subjectStr(line: Buffer, k: number): string {
    const s = this.argIdx[k * 2];
    const e = this.argIdx[k * 2 + 1];
    const len = e - s;
    const last = this.lastSubjectBytes;
    if (len === this.lastSubjectLen) {
      let i = 0;
      while (i < len && last[i] === line[s + i]) i++;
      if (i === len) return this.lastSubject;
    }
    const str = line.toString('utf8', s, e);
    if (len <= last.length) {
      line.copy(last, 0, s, e);
      this.lastSubjectLen = len;
      this.lastSubject = str;
    }
    return str;
  }

  private str(line: Buffer, k: number): string {
    return line.toString('utf8', this.argIdx[k * 2], this.argIdx[k * 2 + 1]);
  }

  /** A decimal size like parser.go parseSize: 1–9 digits, else -1. */
  private num(line: Buffer, k: number): number {
    const s = this.argIdx[k * 2];
    const e = this.argIdx[k * 2 + 1];
    if (e - s < 1 || e - s > 9) return -1;
    let v = 0;
    for (let i = s; i < e; i++) {
      const c = line[i] - 0x30;
      if (c < 0 || c > 9) return -1;
      v = v * 10 + c;
    }
    return v;
  }

  private processLine(line: Buffer, s: number, e: number, at: number): void {
    const d = this.d;
    switch (this.op) {
      case Op.Pub: {
        const n = this.splitArgs(line, s, e, at);
        if (n !== 2 && n !== 3) throw new NatsProtocolError(NatsErr.ParserError, `PUB with ${n} arguments`, at);
        this.beginMessage(line, 0, n === 3 ? 1 : -1, -1, n - 1, at, 'PUB');
        return;
      }
      case Op.Hpub: {
        const n = this.splitArgs(line, s, e, at);
        if (n !== 3 && n !== 4) throw new NatsProtocolError(NatsErr.ParserError, `HPUB with ${n} arguments`, at);
        this.beginMessage(line, 0, n === 4 ? 1 : -1, n - 2, n - 1, at, 'HPUB');
        return;
      }
      case Op.Msg: {
        if (d.onMsg === undefined) throw this.unknownOp(at);
        const n = this.splitArgs(line, s, e, at);
        if (n !== 3 && n !== 4) throw new NatsProtocolError(NatsErr.ParserError, `MSG with ${n} arguments`, at);
        this.sid = this.str(line, 1);
        this.beginMessage(line, 0, n === 4 ? 2 : -1, -1, n - 1, at, 'MSG');
        return;
      }
      case Op.Hmsg: {
        if (d.onHmsg === undefined) throw this.unknownOp(at);
        const n = this.splitArgs(line, s, e, at);
        if (n !== 4 && n !== 5) throw new NatsProtocolError(NatsErr.ParserError, `HMSG with ${n} arguments`, at);
        this.sid = this.str(line, 1);
        this.beginMessage(line, 0, n === 5 ? 2 : -1, n - 2, n - 1, at, 'HMSG');
        return;
      }
      case Op.Sub: {
        const n = this.splitArgs(line, s, e, at);
        if (n === 2) d.onSub(this.str(line, 0), undefined, this.str(line, 1));
        else if (n === 3) d.onSub(this.str(line, 0), this.str(line, 1), this.str(line, 2));
        else throw new NatsProtocolError(NatsErr.ParserError, `SUB with ${n} arguments`, at);
        return;
      }
      case Op.Unsub: {
        const n = this.splitArgs(line, s, e, at);
        if (n === 1) {
          d.onUnsub(this.str(line, 0), undefined);
        } else if (n === 2) {
          const max = this.num(line, 1);
          if (max < 0) throw new NatsProtocolError(NatsErr.ParserError, 'UNSUB with a bad max', at);
          d.onUnsub(this.str(line, 0), max);
        } else {
          throw new NatsProtocolError(NatsErr.ParserError, `UNSUB with ${n} arguments`, at);
        }
        return;
      }
      case Op.Connect:
        d.onConnect(line.toString('utf8', s, e));
        return;
      case Op.Info:
        if (d.onInfo === undefined) throw this.unknownOp(at);
        d.onInfo(line.toString('utf8', s, e));
        return;
      case Op.Ping:
        d.onPing();
        return;
      case Op.Pong:
        d.onPong();
        return;
      case Op.Ok:
        if (d.onOk === undefined) throw this.unknownOp(at);
        d.onOk();
        return;
      case Op.Err: {
        if (d.onErr === undefined) throw this.unknownOp(at);
        let a = s;
        let b = e;
        while (b > a && (line[b - 1] === SPACE || line[b - 1] === TAB)) b--;
        if (b - a >= 2 && line[a] === 0x27 && line[b - 1] === 0x27) {
          a++;
          b--;
        }
        d.onErr(line.toString('utf8', a, b));
        return;
      }
      default:
        throw this.unknownOp(at);
    }
  }

  /** Reads subject/reply/sizes of a message op (argument indexes, -1 = absent) and enters the Payload state. */
  private beginMessage(line: Buffer, subjectK: number, replyK: number, hdrK: number, sizeK: number, at: number, name: string): void {
    const size = this.num(line, sizeK);
    if (size < 0) throw new NatsProtocolError(NatsErr.ParserError, `${name} with a bad size`, at);
    let hdr = -1;
    if (hdrK >= 0) {
      hdr = this.num(line, hdrK);
      if (hdr < 0) throw new NatsProtocolError(NatsErr.ParserError, `${name} with a bad header size`, at);
      if (hdr > size) throw new NatsProtocolError(NatsErr.ParserError, `${name} header size larger than total size`, at);
    }
    // client.go processPub / processHeaderPub: the size (headers + payload) is bounded by max_payload.
    if (size > this.maxPayload) {
      throw new NatsProtocolError(NatsErr.MaxPayloadViolation, `${name} of ${size} bytes over max_payload ${this.maxPayload}`, at);
    }
    this.subject = this.subjectStr(line, subjectK);
    this.reply = replyK >= 0 ? this.str(line, replyK) : undefined;
    this.hdrSize = hdr;
    this.size = size;
    this.state = State.Payload;
  }

  private unknownOp(at: number): NatsProtocolError {
    return new NatsProtocolError(NatsErr.UnknownProtocolOperation, `unexpected byte in state ${this.state}`, at);
  }

  private controlLine(at: number, len: number): NatsProtocolError {
    return new NatsProtocolError(NatsErr.MaxControlLineExceeded, `control line of ${len} bytes over ${this.maxControlLine}`, at);
  }
}
