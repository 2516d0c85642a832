/**
 * The MQTT edge of the interop table (docs/mqtt.md "Mapping"): PUBLISH <-> core Message.
 *
 *   MQTT topic a/b                    <-> Message.subject a.b (core/router/translate.ts)
 *   payload                           <-> value (the same bytes, no copy)
 *   User Property (name, value)*      <-> headers (key, utf-8 value), in order
 *   Content Type                      <-> header `content-type`
 *   Correlation Data                  <-> header `correlation-id` (bytes as they are)
 *   Response Topic                    <-> replyTo (as a subject)
 *   QoS, RETAIN, Payload Format, Message Expiry: kept on the Message as `mqtt` (MQTT-only, not stored in streams)
 *
 * A message from another protocol is delivered at QoS min(subscription QoS, 1): it has no MQTT QoS of its own,
 * and the core accepted it, so it is delivered at least once to a QoS >= 1 subscriber.
 */
import type { Message } from '../../core/message.js';
import { subjectToMqttTopic } from '../../core/router/translate.js';
import type { RecordHeader } from '../../storage/record-batch.js';
import type { Properties, QoS } from './codec/index.js';

export const CONTENT_TYPE_HEADER = 'content-type';
export const CORRELATION_HEADER = 'correlation-id';

/** What an MQTT publish adds to a core Message for MQTT subscribers. */
export interface MqttAttributes {
  qos: QoS;
  retain: boolean;
  payloadFormatIndicator?: number;
  /** Absolute expiry from Message Expiry Interval. */
  expiresAtMs?: number;
  /** The publisher's user properties, in wire order (repeats kept). */
  userProperties?: Array<[string, string]>;
}

export interface MqttMessage extends Message {
  mqtt?: MqttAttributes;
}

const NO_HEADERS: RecordHeader[] = Object.freeze([]) as unknown as RecordHeader[];

/** Builds the core Message of a PUBLISH whose topic is already translated to `subject`. */
export function publishToMessage(subject: string, qos: QoS, retain: boolean, payload: Buffer, props: Properties | undefined, replyTo: string | undefined, origin: object, nowMs: number): MqttMessage {
  let headers = NO_HEADERS;
  const mqtt: MqttAttributes = { qos, retain };
  if (props !== undefined) {
    const up = props.userProperties;
    if (up !== undefined || props.contentType !== undefined || props.correlationData !== undefined) {
      headers = [];
      if (up !== undefined) {
        mqtt.userProperties = up;
        for (const [k, v] of up) headers.push({ key: k, value: Buffer.from(v, 'utf8') });
      }
      if (props.contentType !== undefined) headers.push({ key: CONTENT_TYPE_HEADER, value: Buffer.from(props.contentType, 'utf8') });
      if (props.correlationData !== undefined) headers.push({ key: CORRELATION_HEADER, value: Buffer.from(props.correlationData) });
    }
    if (props.payloadFormatIndicator !== undefined) mqtt.payloadFormatIndicator = props.payloadFormatIndicator;
    if (props.messageExpiryInterval !== undefined) mqtt.expiresAtMs = nowMs + props.messageExpiryInterval * 1000;
  }
  const m: MqttMessage = { subject, key: null, value: payload, headers, timestamp: nowMs, origin, mqtt };
  if (replyTo !== undefined) m.replyTo = replyTo;
  return m;
}

/**
 * The v5 PUBLISH properties for delivering `m` (undefined when none), or null when the message has expired.
 * Expiry is sent as the time left ([MQTT-3.3.2-6]).
 */
export function messageToProperties(m: MqttMessage, nowMs: number): Properties | undefined | null {
  const a = m.mqtt;
  let props: Properties | undefined;
  if (a?.expiresAtMs !== undefined) {
    const leftMs = a.expiresAtMs - nowMs;
    if (leftMs <= 0) return null;
    props = { messageExpiryInterval: Math.ceil(leftMs / 1000) };
  }
  if (a?.payloadFormatIndicator !== undefined) (props ??= {}).payloadFormatIndicator = a.payloadFormatIndicator;
  if (m.replyTo !== undefined) {
    const rt = subjectToMqttTopic(m.replyTo);
    if (rt !== null) (props ??= {}).responseTopic = rt;
  }
  const headers = m.headers;
  if (headers.length === 0) return props;
  let up: Array<[string, string]> | undefined = a?.userProperties;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i];
    if (h.key === CONTENT_TYPE_HEADER && h.value !== null) (props ??= {}).contentType = h.value.toString('utf8');
    else if (h.key === CORRELATION_HEADER && h.value !== null) (props ??= {}).correlationData = h.value;
    else if (a?.userProperties === undefined && !h.key.startsWith('tributary-')) (up ??= []).push([h.key, h.value === null ? '' : h.value.toString('utf8')]);
  }
  if (up !== undefined && up.length > 0) (props ??= {}).userProperties = up;
  return props;
}
