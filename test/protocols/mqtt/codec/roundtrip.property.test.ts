import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeFrame,
  encodePacket,
  PROPERTIES,
  PropertyContext,
  REASON_CODES,
  ReasonPacket,
  MAX_VBI,
  type MqttPacket,
  type MqttVersion,
  type Properties,
} from '../../../../src/protocols/mqtt/codec/index.js';

// encode → decode is the identity for every packet type in both versions (STYLE §7 property tests).

const utf8 = (maxLength = 12): fc.Arbitrary<string> =>
  fc.string({ unit: 'binary', maxLength }).filter((s) => !s.includes('\0') && Buffer.from(s, 'utf8').toString('utf8') === s);
const topicName = utf8(12).filter((s) => s.length > 0 && !s.includes('+') && !s.includes('#'));
const filter = utf8(12).filter((s) => s.length > 0 && !s.startsWith('$share/'));
const bytes = (maxLength = 16): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));
/** fc.record with ordinary objects (deepStrictEqual compares prototypes). */
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}
const packetId = fc.integer({ min: 1, max: 0xffff });
const qos = fc.constantFrom(0 as const, 1 as const, 2 as const);

function valueArb(type: string, check: boolean, name: string, ctx: PropertyContext): fc.Arbitrary<unknown> {
  const flag = check && ['payloadFormatIndicator', 'requestProblemInformation', 'requestResponseInformation', 'maximumQos', 'retainAvailable',
    'wildcardSubscriptionAvailable', 'subscriptionIdentifierAvailable', 'sharedSubscriptionAvailable'].includes(name);
  const min = check && !flag ? 1 : 0;
  switch (type) {
    case 'byte': return fc.integer({ min: 0, max: flag ? 1 : 255 });
    case 'uint16': return fc.integer({ min, max: 0xffff });
    case 'uint32': return fc.integer({ min, max: 0xffffffff });
    case 'vbi': return fc.array(fc.integer({ min: 1, max: MAX_VBI }), { minLength: 1, maxLength: ctx === PropertyContext.PUBLISH ? 3 : 1 });
    case 'utf8': return utf8();
    case 'binary': return bytes();
    case 'pair': return fc.array(fc.tuple(utf8(6), utf8(6)), { minLength: 1, maxLength: 3 });
    default: throw new Error(type);
  }
}

/** Properties for a context, built from the codec's own table; undefined when empty. */
function propsArb(ctx: PropertyContext): fc.Arbitrary<Properties | undefined> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const def of PROPERTIES) if (def.allowed & ctx) model[def.name] = valueArb(def.type, def.check !== undefined, def.name, ctx);
  return fc.record(model, { requiredKeys: [] }).map((r) => (Object.keys(r).length === 0 ? undefined : ({ ...r } as Properties)));
}

function withProps<T extends object>(p: T, props: Properties | undefined): T {
  return props === undefined ? p : { ...p, properties: props };
}

function reasonArb(packet: ReasonPacket): fc.Arbitrary<number> {
  return fc.constantFrom(...REASON_CODES.filter(([, , ps]) => ps & packet).map(([c]) => c));
}

function packetArb(version: MqttVersion): fc.Arbitrary<MqttPacket> {
  const v5 = version === 5;
  const props = (ctx: PropertyContext): fc.Arbitrary<Properties | undefined> => (v5 ? propsArb(ctx) : fc.constant(undefined));
  const connect = fc
    .record({
      cleanStart: fc.boolean(),
      keepAliveSec: fc.integer({ min: 0, max: 0xffff }),
      clientId: utf8(23),
      properties: props(PropertyContext.CONNECT),
      will: fc.option(rec({ topic: topicName, payload: bytes(), qos, retain: fc.boolean(), properties: props(PropertyContext.WILL) }), { nil: undefined }),
      username: fc.option(utf8(), { nil: undefined }),
      password: fc.option(bytes(), { nil: undefined }),
      legacy: fc.boolean(),
    })
    .map((r): MqttPacket => {
      const p: MqttPacket = v5 || !r.legacy
        ? { type: 'connect', protocolName: 'MQTT', protocolLevel: version, cleanStart: r.cleanStart, keepAliveSec: r.keepAliveSec, clientId: r.clientId }
        : { type: 'connect', protocolName: 'MQIsdp', protocolLevel: 3, cleanStart: r.cleanStart, keepAliveSec: r.keepAliveSec, clientId: r.clientId };
      if (r.properties !== undefined) p.properties = r.properties;
      if (r.will !== undefined) p.will = withProps({ topic: r.will.topic, payload: r.will.payload, qos: r.will.qos, retain: r.will.retain }, r.will.properties);
      if (r.username !== undefined) p.username = r.username;
      // 3.1.1 [MQTT-3.1.2-22]: no password without a user name.
      if (r.password !== undefined && (v5 || r.username !== undefined)) p.password = r.password;
      return p;
    });
  const connack = fc
    .record({ sessionPresent: fc.boolean(), reasonCode: v5 ? reasonArb(ReasonPacket.CONNACK) : fc.integer({ min: 0, max: 5 }), properties: props(PropertyContext.CONNACK) })
    .map((r) => withProps({ type: 'connack' as const, sessionPresent: r.sessionPresent && r.reasonCode === 0, reasonCode: r.reasonCode }, r.properties));
  const publish = fc
    .record({ qos, dup: fc.boolean(), retain: fc.boolean(), topic: topicName, packetId, properties: props(PropertyContext.PUBLISH), payload: bytes(64) })
    .map((r) => {
      const p = { type: 'publish' as const, dup: r.qos > 0 && r.dup, qos: r.qos, retain: r.retain, topic: r.topic, payload: r.payload } as Extract<MqttPacket, { type: 'publish' }>;
      if (r.qos > 0) p.packetId = r.packetId;
      return withProps(p, r.properties);
    });
  const acks = (['puback', 'pubrec', 'pubrel', 'pubcomp'] as const).map((type) => {
    const rp = { puback: ReasonPacket.PUBACK, pubrec: ReasonPacket.PUBREC, pubrel: ReasonPacket.PUBREL, pubcomp: ReasonPacket.PUBCOMP }[type];
    const ctx = { puback: PropertyContext.PUBACK, pubrec: PropertyContext.PUBREC, pubrel: PropertyContext.PUBREL, pubcomp: PropertyContext.PUBCOMP }[type];
    return fc
      .record({ packetId, reasonCode: v5 ? reasonArb(rp) : fc.constant(0), properties: props(ctx), emptyBlock: fc.boolean() })
      .map((r): MqttPacket => {
        // An explicit empty block is meaningful only with reason Success (it selects the long form).
        const properties = r.properties ?? (v5 && r.emptyBlock && r.reasonCode === 0 ? {} : undefined);
        return withProps({ type, packetId: r.packetId, reasonCode: r.reasonCode }, properties);
      });
  });
  const subscription = rec({
    topicFilter: filter,
    qos,
    noLocal: v5 ? fc.boolean() : fc.constant(false),
    retainAsPublished: v5 ? fc.boolean() : fc.constant(false),
    retainHandling: v5 ? fc.constantFrom(0 as const, 1 as const, 2 as const) : fc.constant(0 as const),
  });
  const subscribe = fc
    .record({ packetId, properties: props(PropertyContext.SUBSCRIBE), subscriptions: fc.array(subscription, { minLength: 1, maxLength: 4 }) })
    .map((r) => withProps({ type: 'subscribe' as const, packetId: r.packetId, subscriptions: r.subscriptions }, r.properties));
  const suback = fc
    .record({ packetId, properties: props(PropertyContext.SUBACK), reasonCodes: fc.array(v5 ? reasonArb(ReasonPacket.SUBACK) : fc.constantFrom(0, 1, 2, 0x80), { minLength: 1, maxLength: 5 }) })
    .map((r) => withProps({ type: 'suback' as const, packetId: r.packetId, reasonCodes: r.reasonCodes }, r.properties));
  const unsubscribe = fc
    .record({ packetId, properties: props(PropertyContext.UNSUBSCRIBE), topicFilters: fc.array(filter, { minLength: 1, maxLength: 4 }) })
    .map((r) => withProps({ type: 'unsubscribe' as const, packetId: r.packetId, topicFilters: r.topicFilters }, r.properties));
  const unsuback = fc
    .record({ packetId, properties: props(PropertyContext.UNSUBACK), reasonCodes: v5 ? fc.array(reasonArb(ReasonPacket.UNSUBACK), { minLength: 1, maxLength: 5 }) : fc.constant<number[]>([]) })
    .map((r) => withProps({ type: 'unsuback' as const, packetId: r.packetId, reasonCodes: r.reasonCodes }, r.properties));
  const disconnect = fc
    .record({ reasonCode: v5 ? reasonArb(ReasonPacket.DISCONNECT) : fc.constant(0), properties: props(PropertyContext.DISCONNECT) })
    .map((r) => withProps({ type: 'disconnect' as const, reasonCode: r.reasonCode }, r.properties));
  const any = (a: fc.Arbitrary<unknown>): fc.Arbitrary<MqttPacket> => a as fc.Arbitrary<MqttPacket>;
  const all: Array<fc.Arbitrary<MqttPacket>> = [
    connect, any(connack), any(publish), ...acks, any(subscribe), any(suback), any(unsubscribe), any(unsuback), any(disconnect),
    fc.constant({ type: 'pingreq' } as MqttPacket), fc.constant({ type: 'pingresp' } as MqttPacket),
  ];
  if (v5) {
    all.push(
      any(rec({ reasonCode: reasonArb(ReasonPacket.AUTH), properties: props(PropertyContext.AUTH) })
        .map((r) => withProps({ type: 'auth' as const, reasonCode: r.reasonCode }, r.properties))),
    );
  }
  return fc.oneof(...all);
}

for (const version of [4, 5] as const) {
  test(`every v${version} packet type survives encode → decode unchanged`, () => {
    fc.assert(
      fc.property(packetArb(version), (p) => {
        const bytes = encodePacket(p, version);
        const back = decodeFrame(bytes, version);
        assert.deepStrictEqual(back, p);
        // and the bytes are canonical: encoding the decoded packet gives them again
        assert.ok(encodePacket(back, version).equals(bytes));
      }),
      { numRuns: 3000 },
    );
  });
}
