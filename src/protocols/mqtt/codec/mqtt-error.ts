/**
 * MqttProtocolError: a packet that cannot be accepted, carrying the MQTT 5 Reason Code the session should send
 * (DISCONNECT in v5, or CONNACK when it happens on CONNECT; in 3.1.1 the session maps it with
 * `connackReturnCodeV4` or simply closes, MQTT-3.1.1 §4.8 "the Server MUST close the Network Connection").
 *
 * The codec raises this for everything it rejects. A bounds failure inside a packet body (a WireError from
 * BufferReader) is a Malformed Packet: `decodePacket` rewraps it here with reason 0x81 and keeps the WireError
 * as `cause`, so a session needs to handle one error type from the codec.
 */
import { WireError } from '../../../wire/wire-error.js';
import { ReasonCode } from './reason-codes.js';

export class MqttProtocolError extends Error {
  /** MQTT 5 Reason Code to answer with (0x81 Malformed Packet, 0x82 Protocol Error, 0x95 Packet too large …). */
  readonly reasonCode: number;
  /** The field being decoded when the problem was found. */
  readonly field: string;
  /** Byte offset within the packet body (or stream, for the splitter). */
  readonly offset: number;

  constructor(reasonCode: number, field: string, offset: number, message: string, options?: { cause?: unknown }) {
    super(`mqtt: ${field} at offset ${offset}: ${message} (reason 0x${reasonCode.toString(16).padStart(2, '0')})`, options);
    this.name = 'MqttProtocolError';
    this.reasonCode = reasonCode;
    this.field = field;
    this.offset = offset;
  }

  /** A WireError from a bounds-checked read inside a packet: the packet is shorter than its fields say. */
  static fromWireError(e: WireError): MqttProtocolError {
    return new MqttProtocolError(ReasonCode.MalformedPacket, e.field, e.offset, e.message, { cause: e });
  }
}

export function malformed(field: string, offset: number, message: string): MqttProtocolError {
  return new MqttProtocolError(ReasonCode.MalformedPacket, field, offset, message);
}

export function protocolError(field: string, offset: number, message: string): MqttProtocolError {
  return new MqttProtocolError(ReasonCode.ProtocolError, field, offset, message);
}
