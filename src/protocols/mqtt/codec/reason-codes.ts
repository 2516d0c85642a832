/**
 * MQTT 5 Reason Codes (MQTT 5.0 §2.4, Table 2-6) as data: each code, its name(s) and the packets that may carry it.
 * Decoders check a received code against this table (a code a packet may not carry is a Protocol Error);
 * sessions pick codes by name from `ReasonCode`. MQTT 3.1.1 has no reason codes, only the CONNACK return codes
 * (3.1.1 §3.2.2.3) and SUBACK return codes (§3.9.3); `connackReturnCodeV4` maps the one onto the other.
 */

/** The packets a reason code can appear in, as bits so a table row is one number. */
export enum ReasonPacket {
  CONNACK = 1 << 0,
  PUBACK = 1 << 1,
  PUBREC = 1 << 2,
  PUBREL = 1 << 3,
  PUBCOMP = 1 << 4,
  SUBACK = 1 << 5,
  UNSUBACK = 1 << 6,
  DISCONNECT = 1 << 7,
  AUTH = 1 << 8,
}

export const ReasonCode = {
  Success: 0x00,
  NormalDisconnection: 0x00,
  GrantedQoS0: 0x00,
  GrantedQoS1: 0x01,
  GrantedQoS2: 0x02,
  DisconnectWithWillMessage: 0x04,
  NoMatchingSubscribers: 0x10,
  NoSubscriptionExisted: 0x11,
  ContinueAuthentication: 0x18,
  ReAuthenticate: 0x19,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  ImplementationSpecificError: 0x83,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerBusy: 0x89,
  Banned: 0x8a,
  ServerShuttingDown: 0x8b,
  BadAuthenticationMethod: 0x8c,
  KeepAliveTimeout: 0x8d,
  SessionTakenOver: 0x8e,
  TopicFilterInvalid: 0x8f,
  TopicNameInvalid: 0x90,
  PacketIdentifierInUse: 0x91,
  PacketIdentifierNotFound: 0x92,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  MessageRateTooHigh: 0x96,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  PayloadFormatInvalid: 0x99,
  RetainNotSupported: 0x9a,
  QoSNotSupported: 0x9b,
  UseAnotherServer: 0x9c,
  ServerMoved: 0x9d,
  SharedSubscriptionsNotSupported: 0x9e,
  ConnectionRateExceeded: 0x9f,
  MaximumConnectTime: 0xa0,
  SubscriptionIdentifiersNotSupported: 0xa1,
  WildcardSubscriptionsNotSupported: 0xa2,
} as const;

const P = ReasonPacket;
const ACKS_ERR = P.CONNACK | P.PUBACK | P.PUBREC | P.SUBACK | P.UNSUBACK | P.DISCONNECT;

/** [code, name, packets] — Table 2-6 row by row. */
export const REASON_CODES: ReadonlyArray<readonly [number, string, number]> = [
  [0x00, 'Success', P.CONNACK | P.PUBACK | P.PUBREC | P.PUBREL | P.PUBCOMP | P.UNSUBACK | P.AUTH | P.DISCONNECT | P.SUBACK],
  [0x01, 'Granted QoS 1', P.SUBACK],
  [0x02, 'Granted QoS 2', P.SUBACK],
  [0x04, 'Disconnect with Will Message', P.DISCONNECT],
  [0x10, 'No matching subscribers', P.PUBACK | P.PUBREC],
  [0x11, 'No subscription existed', P.UNSUBACK],
  [0x18, 'Continue authentication', P.AUTH],
  [0x19, 'Re-authenticate', P.AUTH],
  [0x80, 'Unspecified error', ACKS_ERR],
  [0x81, 'Malformed Packet', P.CONNACK | P.DISCONNECT],
  [0x82, 'Protocol Error', P.CONNACK | P.DISCONNECT],
  [0x83, 'Implementation specific error', ACKS_ERR],
  [0x84, 'Unsupported Protocol Version', P.CONNACK],
  [0x85, 'Client Identifier not valid', P.CONNACK],
  [0x86, 'Bad User Name or Password', P.CONNACK],
  [0x87, 'Not authorized', ACKS_ERR],
  [0x88, 'Server unavailable', P.CONNACK],
  [0x89, 'Server busy', P.CONNACK | P.DISCONNECT],
  [0x8a, 'Banned', P.CONNACK],
  [0x8b, 'Server shutting down', P.DISCONNECT],
  [0x8c, 'Bad authentication method', P.CONNACK | P.DISCONNECT],
  [0x8d, 'Keep Alive timeout', P.DISCONNECT],
  [0x8e, 'Session taken over', P.DISCONNECT],
  [0x8f, 'Topic Filter invalid', P.SUBACK | P.UNSUBACK | P.DISCONNECT],
  [0x90, 'Topic Name invalid', P.CONNACK | P.PUBACK | P.PUBREC | P.DISCONNECT],
  [0x91, 'Packet Identifier in use', P.PUBACK | P.PUBREC | P.SUBACK | P.UNSUBACK],
  [0x92, 'Packet Identifier not found', P.PUBREL | P.PUBCOMP],
  [0x93, 'Receive Maximum exceeded', P.DISCONNECT],
  [0x94, 'Topic Alias invalid', P.DISCONNECT],
  [0x95, 'Packet too large', P.CONNACK | P.DISCONNECT],
  [0x96, 'Message rate too high', P.DISCONNECT],
  [0x97, 'Quota exceeded', P.CONNACK | P.PUBACK | P.PUBREC | P.SUBACK | P.DISCONNECT],
  [0x98, 'Administrative action', P.DISCONNECT],
  [0x99, 'Payload format invalid', P.CONNACK | P.PUBACK | P.PUBREC | P.DISCONNECT],
  [0x9a, 'Retain not supported', P.CONNACK | P.DISCONNECT],
  [0x9b, 'QoS not supported', P.CONNACK | P.DISCONNECT],
  [0x9c, 'Use another server', P.CONNACK | P.DISCONNECT],
  [0x9d, 'Server moved', P.CONNACK | P.DISCONNECT],
  [0x9e, 'Shared Subscriptions not supported', P.SUBACK | P.DISCONNECT],
  [0x9f, 'Connection rate exceeded', P.CONNACK | P.DISCONNECT],
  [0xa0, 'Maximum connect time', P.DISCONNECT],
  [0xa1, 'Subscription Identifiers not supported', P.SUBACK | P.DISCONNECT],
  [0xa2, 'Wildcard Subscriptions not supported', P.SUBACK | P.DISCONNECT],
];

const ALLOWED = new Uint16Array(256);
const NAMES: string[] = new Array<string>(256).fill('');
for (const [code, name, packets] of REASON_CODES) {
  ALLOWED[code] = packets;
  NAMES[code] = name;
}

/** True when `code` is a v5 reason code that `packet` may carry. */
export function isReasonCodeAllowed(code: number, packet: ReasonPacket): boolean {
  return (ALLOWED[code & 0xff] & packet) !== 0 && code >= 0 && code <= 0xff;
}

/** Human name of a reason code ('' when undefined). */
export function reasonCodeName(code: number): string {
  return NAMES[code & 0xff] ?? '';
}

/** MQTT 3.1.1 SUBACK return codes (§3.9.3): granted QoS or failure. */
export const SUBACK_FAILURE_V4 = 0x80;

/**
 * MQTT 3.1.1 CONNACK return code for a v5 CONNACK reason (3.1.1 §3.2.2.3): 1 unacceptable protocol version,
 * 2 identifier rejected, 3 server unavailable, 4 bad user name or password, 5 not authorized. Anything else has
 * no 3.1.1 equivalent: the server closes the connection without a CONNACK (returns undefined).
 */
export function connackReturnCodeV4(reason: number): number | undefined {
  switch (reason) {
    case 0x00: return 0;
    case 0x84: return 1;
    case 0x85: return 2;
    case 0x88: case 0x89: return 3;
    case 0x86: return 4;
    case 0x87: case 0x8a: return 5;
    default: return undefined;
  }
}
