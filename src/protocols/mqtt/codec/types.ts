/**
 * Typed MQTT control packets (3.1.1 §3, 5.0 §3). One shape per packet for both versions: v5-only fields
 * (properties, reason codes, subscription options) are absent/zero when the version is 4.
 */
import type { Properties } from './properties.js';

/** Protocol Level of the connection: 4 = MQTT 3.1.1 (also used for 3.1, level 3), 5 = MQTT 5.0. */
export type MqttVersion = 4 | 5;
export type QoS = 0 | 1 | 2;

/** Control packet types (§2.2.1 / §2.1.2), the high nibble of the first byte. */
export const PacketType = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
  AUTH: 15,
} as const;

export interface Will {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** v5 Will Properties (§3.1.3.2). */
  properties?: Properties;
}

export interface ConnectPacket {
  type: 'connect';
  /** "MQTT" (levels 4 and 5) or "MQIsdp" (3.1, level 3). */
  protocolName: string;
  protocolLevel: 3 | 4 | 5;
  /** Clean Session (3.1.1) / Clean Start (5.0). */
  cleanStart: boolean;
  keepAliveSec: number;
  properties?: Properties;
  clientId: string;
  will?: Will;
  username?: string;
  password?: Buffer;
}

export interface ConnackPacket {
  type: 'connack';
  sessionPresent: boolean;
  /** v5 Reason Code, or the 3.1.1 Connect Return Code (0..5). */
  reasonCode: number;
  properties?: Properties;
}

export interface PublishPacket {
  type: 'publish';
  dup: boolean;
  qos: QoS;
  retain: boolean;
  /** May be '' in v5 when a Topic Alias property stands for it. */
  topic: string;
  /** Present iff qos > 0. */
  packetId?: number;
  properties?: Properties;
  /** A view of the received bytes (no copy). */
  payload: Buffer;
}

/** PUBACK, PUBREC, PUBREL, PUBCOMP share one layout (§3.4–3.7). */
export interface PubAckPacket {
  type: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';
  packetId: number;
  /** v5 only; 0 in 3.1.1. */
  reasonCode: number;
  properties?: Properties;
}

export interface Subscription {
  topicFilter: string;
  qos: QoS;
  /** v5 subscription options (§3.8.3.1); false/0 in 3.1.1. */
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
}

export interface SubscribePacket {
  type: 'subscribe';
  packetId: number;
  properties?: Properties;
  subscriptions: Subscription[];
}

export interface SubackPacket {
  type: 'suback';
  packetId: number;
  properties?: Properties;
  /** Granted QoS or failure/reason per filter, in order. */
  reasonCodes: number[];
}

export interface UnsubscribePacket {
  type: 'unsubscribe';
  packetId: number;
  properties?: Properties;
  topicFilters: string[];
}

export interface UnsubackPacket {
  type: 'unsuback';
  packetId: number;
  properties?: Properties;
  /** One per filter in v5; empty in 3.1.1 (which has none). */
  reasonCodes: number[];
}

export interface PingreqPacket {
  type: 'pingreq';
}

export interface PingrespPacket {
  type: 'pingresp';
}

export interface DisconnectPacket {
  type: 'disconnect';
  /** v5 only; 0 (normal disconnection) in 3.1.1. */
  reasonCode: number;
  properties?: Properties;
}

export interface AuthPacket {
  type: 'auth';
  reasonCode: number;
  properties?: Properties;
}

export type MqttPacket =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | PubAckPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket
  | AuthPacket;
