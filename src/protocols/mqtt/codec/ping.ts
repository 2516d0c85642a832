/**
 * PINGREQ (§3.12, `C0 00`) and PINGRESP (§3.13, `D0 00`): no variable header, no payload, the same in both
 * versions. A non-zero Remaining Length is malformed (decodePacket refuses trailing bytes).
 */
import type { PingreqPacket, PingrespPacket } from './types.js';

export const PINGREQ: PingreqPacket = Object.freeze({ type: 'pingreq' }) as PingreqPacket;
export const PINGRESP: PingrespPacket = Object.freeze({ type: 'pingresp' }) as PingrespPacket;

/** The two-byte packets, preallocated: a keepalive reply is a write, not an encode. */
export const PINGREQ_BYTES: Buffer = Buffer.from([0xc0, 0x00]);
export const PINGRESP_BYTES: Buffer = Buffer.from([0xd0, 0x00]);
