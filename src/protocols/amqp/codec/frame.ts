/**
 * AMQP 0-9-1 framing (spec §2.3.5 "Frame Details", §4.2.2 "Protocol Header", §4.2.3 "General Frame Format"):
 *
 *   protocol-header = 'A' 'M' 'Q' 'P' %d0 %d0 %d9 %d1
 *   frame = frame-type:octet channel:short size:long payload:size*OCTET frame-end:%xCE
 *   frame-type = 1 METHOD | 2 HEADER (content header) | 3 BODY | 8 HEARTBEAT
 *
 * A server that does not accept the client's protocol header writes back the header it does accept
 * (PROTOCOL_HEADER) and closes the socket (§4.2.2). A frame larger than the negotiated frame-max (the whole frame,
 * the 8 bytes of header and frame-end included), of an unknown type, or whose last octet is not 0xCE is a
 * connection exception 501 FRAME_ERROR (§4.2.3: "If a peer receives a frame with a bad frame-end it MUST treat
 * this as a fatal error"); FrameError carries that reply code so the connection can send connection.close.
 *
 * FrameSplitter cuts a byte stream into frames. It checks the frame size against frameMax as soon as the 7-byte
 * header is complete, BEFORE it allocates anything for the payload, so a peer cannot make the broker allocate
 * more than frameMax per connection. A frame wholly inside one chunk is handed on as a view of that chunk (no
 * copy); one that straddles chunks is assembled once into a buffer of its exact size. Not re-entrant; one
 * splitter per connection; after an error it refuses further input.
 */
import { BufferWriter, WireError } from '../../../wire/index.js';
import { FRAME_END, FRAME_MIN_SIZE, FrameType, ReplyCode } from './methods.js';

/** type + channel + size. */
export const FRAME_HEADER_SIZE = 7;
/** Header plus the frame-end octet: a body frame carries at most frameMax - FRAME_OVERHEAD bytes. */
export const FRAME_OVERHEAD = 8;

/** The only protocol header this server accepts, and its answer to any other (§4.2.2). */
export const PROTOCOL_HEADER: Buffer = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x00, 0x00, 0x09, 0x01]);

/** A heartbeat frame: type 8, channel 0, no payload (§4.2.7). */
export const HEARTBEAT_FRAME: Buffer = Buffer.from([FrameType.HEARTBEAT, 0, 0, 0, 0, 0, 0, FRAME_END]);

/** A framing violation: answer with connection.close(replyCode) and close. */
export class FrameError extends WireError {
  readonly replyCode: number = ReplyCode.FRAME_ERROR;
  constructor(field: string, offset: number, message: string) {
    super(field, offset, 0, 0, `wire: invalid ${field} at offset ${offset}: ${message}`);
    this.name = 'FrameError';
  }
}

/** The client's protocol header is not ours: write `answer` to the socket, then close it (§4.2.2). */
export class ProtocolHeaderError extends WireError {
  readonly answer: Buffer = PROTOCOL_HEADER;
  constructor(offset: number, got: number) {
    super('protocol-header', offset, 0, 0, `wire: invalid protocol-header at offset ${offset}: byte 0x${got.toString(16).padStart(2, '0')}, expected 'AMQP\\x00\\x00\\x09\\x01'`);
    this.name = 'ProtocolHeaderError';
  }
}

export type ProtocolHeaderCheck = 'ok' | 'partial' | 'mismatch';

/**
 * Checks the first bytes a client sent: 'ok' when they start with the full header, 'partial' when they are a
 * proper prefix of it (wait for more), 'mismatch' as soon as one byte differs (answer PROTOCOL_HEADER, close).
 */
export function checkProtocolHeader(bytes: Buffer): ProtocolHeaderCheck {
  const n = bytes.length < PROTOCOL_HEADER.length ? bytes.length : PROTOCOL_HEADER.length;
  for (let i = 0; i < n; i++) if (bytes[i] !== PROTOCOL_HEADER[i]) return 'mismatch';
  return n === PROTOCOL_HEADER.length ? 'ok' : 'partial';
}

function isKnownFrameType(t: number): boolean {
  return t === FrameType.METHOD || t === FrameType.HEADER || t === FrameType.BODY || t === FrameType.HEARTBEAT;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing frames

export function writeFrameHeader(w: BufferWriter, type: number, channel: number, payloadSize: number): void {
  const b = w.buf;
  const o = w.offset;
  if (o + FRAME_HEADER_SIZE > b.length) throw new RangeError('BufferWriter overflow: frame header');
  b[o] = type;
  b.writeUInt16BE(channel, o + 1);
  b.writeUInt32BE(payloadSize, o + 3);
  w.offset = o + FRAME_HEADER_SIZE;
}

export function writeFrameEnd(w: BufferWriter): void {
  w.writeUInt8(FRAME_END);
}

/** One frame around `payload` (copies it once). */
export function encodeFrame(type: number, channel: number, payload: Buffer): Buffer {
  const w = BufferWriter.alloc(payload.length + FRAME_OVERHEAD);
  writeFrameHeader(w, type, channel, payload.length);
  w.writeBytes(payload);
  writeFrameEnd(w);
  return w.buf;
}

/** Largest body-frame payload for a negotiated frameMax (0 = no limit). */
export function maxBodyPayload(frameMax: number): number {
  return frameMax === 0 ? 0xffffffff : frameMax - FRAME_OVERHEAD;
}

/** Bytes of the body frames that carry `bodyLength` bytes under frameMax (no frame for an empty body, §4.2.6.2). */
export function bodyFramesSize(bodyLength: number, frameMax: number): number {
  if (bodyLength === 0) return 0;
  const per = maxBodyPayload(frameMax);
  return bodyLength + FRAME_OVERHEAD * Math.ceil(bodyLength / per);
}

/** Writes `body` as body frames of at most frameMax bytes each, into a writer sized with bodyFramesSize. */
export function writeBodyFrames(w: BufferWriter, channel: number, body: Buffer, frameMax: number): void {
  const per = maxBodyPayload(frameMax);
  for (let at = 0; at < body.length; at += per) {
    const n = body.length - at < per ? body.length - at : per;
    writeFrameHeader(w, FrameType.BODY, channel, n);
    body.copy(w.buf, w.offset, at, at + n);
    w.offset += n;
    writeFrameEnd(w);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reading frames

export interface FrameSink {
  /** One frame. `payload` may be a view of the pushed chunk: copy what must outlive the call. */
  onFrame(type: number, channel: number, payload: Buffer): void;
  /** The protocol header was read in full (only with `protocolHeader: true`). */
  onProtocolHeader?(): void;
}

export interface FrameSplitterOptions {
  /**
   * Largest whole frame accepted, header and frame-end included. Until connection.tune-ok the spec's
   * FRAME_MIN_SIZE (4096, §4.2.3: "both peers MUST accept frames of up to frame-min-size octets"); the connection
   * raises it to the negotiated frame-max afterwards.
   */
  frameMax?: number;
  /** Expect the 8-byte protocol header before the first frame (a server-side connection). */
  protocolHeader?: boolean;
}

export class FrameSplitter {
  /** Largest whole frame accepted; may be changed between pushes and from inside onFrame. */
  frameMax: number;
  private readonly sink: FrameSink;
  /** Bytes of the protocol header still expected (0 once matched or when not expected). */
  private headerLeft: number;
  // Frame-header state, valid across chunks: seven bytes kept in a fixed buffer, never grown.
  private readonly head = Buffer.allocUnsafe(FRAME_HEADER_SIZE);
  private headHave = 0;
  private type = 0;
  private channel = 0;
  // Payload of a straddling frame (exactly its size), then the frame-end octet.
  private payload: Buffer | null = null;
  private payloadHave = 0;
  private awaitingEnd = false;
  private failed = false;
  /** Stream offset of the next byte, for error messages. */
  private streamOffset = 0;

  constructor(sink: FrameSink, options: FrameSplitterOptions = {}) {
    this.sink = sink;
    this.frameMax = options.frameMax ?? FRAME_MIN_SIZE;
    this.headerLeft = options.protocolHeader === true ? PROTOCOL_HEADER.length : 0;
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.headHave + this.payloadHave;
  }

  push(chunk: Buffer): void {
    if (this.failed) throw new Error('FrameSplitter used after an error');
    try {
      this.consume(chunk);
    } catch (e) {
      this.failed = true;
      throw e;
    }
  }

  private consume(chunk: Buffer): void {
    const len = chunk.length;
    let i = 0;
    while (this.headerLeft > 0 && i < len) {
      const at = PROTOCOL_HEADER.length - this.headerLeft;
      if (chunk[i] !== PROTOCOL_HEADER[at]) throw new ProtocolHeaderError(this.streamOffset + i, chunk[i]);
      i++;
      if (--this.headerLeft === 0) this.sink.onProtocolHeader?.();
    }
    while (i < len) {
      if (this.awaitingEnd) {
        this.checkEnd(chunk[i], this.streamOffset + i);
        i++;
        const payload = this.payload as Buffer;
        this.payload = null;
        this.payloadHave = 0;
        this.awaitingEnd = false;
        this.sink.onFrame(this.type, this.channel, payload);
        continue;
      }
      if (this.payload !== null) {
        // Continue a straddling frame's payload.
        const want = this.payload.length - this.payloadHave;
        const n = want < len - i ? want : len - i;
        chunk.copy(this.payload, this.payloadHave, i, i + n);
        this.payloadHave += n;
        i += n;
        if (this.payloadHave === this.payload.length) this.awaitingEnd = true;
        continue;
      }
      if (this.headHave === 0 && len - i >= FRAME_HEADER_SIZE) {
        // Fast path: the header is in this chunk.
        const size = this.startFrame(chunk[i], chunk.readUInt16BE(i + 1), chunk.readUInt32BE(i + 3), this.streamOffset + i);
        i += FRAME_HEADER_SIZE;
        if (len - i > size) {
          // The whole frame, frame-end included, is here: hand on a view.
          this.checkEnd(chunk[i + size], this.streamOffset + i + size);
          const payload = chunk.subarray(i, i + size);
          i += size + 1;
          this.sink.onFrame(this.type, this.channel, payload);
        } else {
          i = this.beginStraddling(chunk, i, size);
        }
        continue;
      }
      // Slow path: gather the header byte by byte into the fixed buffer.
      this.head[this.headHave++] = chunk[i++];
      if (this.headHave === FRAME_HEADER_SIZE) {
        this.headHave = 0;
        const size = this.startFrame(this.head[0], this.head.readUInt16BE(1), this.head.readUInt32BE(3), this.streamOffset + i - FRAME_HEADER_SIZE);
        i = this.beginStraddling(chunk, i, size);
      }
    }
    this.streamOffset += len;
  }

  /** Validates a frame header; returns the payload size. Nothing is allocated before this passes. */
  private startFrame(type: number, channel: number, size: number, at: number): number {
    if (!isKnownFrameType(type)) throw new FrameError('frame-type', at, `unknown frame type ${type}`);
    // [§4.2.3] frame-max bounds the whole frame; 0 would mean "no limit", which a server never grants itself.
    if (this.frameMax > 0 && size > this.frameMax - FRAME_OVERHEAD) {
      throw new FrameError('frame-size', at + 3, `frame of ${size + FRAME_OVERHEAD} bytes exceeds frame-max ${this.frameMax}`);
    }
    this.type = type;
    this.channel = channel;
    return size;
  }

  /** The frame's payload (and maybe its end) continues past this chunk; copy what is here. Returns the new index. */
  private beginStraddling(chunk: Buffer, i: number, size: number): number {
    this.payload = size === 0 ? EMPTY : Buffer.allocUnsafe(size);
    const n = chunk.length - i < size ? chunk.length - i : size;
    chunk.copy(this.payload, 0, i, i + n);
    this.payloadHave = n;
    if (n === size) this.awaitingEnd = true;
    return i + n;
  }

  private checkEnd(octet: number, at: number): void {
    if (octet !== FRAME_END) throw new FrameError('frame-end', at, `frame-end is 0x${octet.toString(16).padStart(2, '0')}, not 0xce`);
  }
}

const EMPTY = Buffer.alloc(0);
