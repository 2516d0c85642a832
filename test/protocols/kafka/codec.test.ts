import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  API_INFOS,
  ApiKey,
  ConsumerGroupHeartbeatResponseSchema,
  ErrorCode,
  FetchRequestSchema,
  KAFKA_ERROR_CODES,
  KafkaEncodeError,
  MetadataRequestSchema,
  ZERO_UUID,
  decodeBuffer,
  decodeRequest,
  decodeRequestHeader,
  decodeResponse,
  encodeApiVersionsFallback,
  encodeRequest,
  encodeResponse,
  encodeToBuffer,
  isSupportedVersion,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../../../src/protocols/kafka/codec/index.js';
import { WireError } from '../../../src/wire/index.js';

const isWire = (e: unknown): boolean => e instanceof WireError;

/** librdkafka's first request: ApiVersions v3, request header v2, compact strings, empty tag buffers. */
const LIBRDKAFKA_API_VERSIONS_V3 = Buffer.concat([
  Buffer.from([0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01]), // api_key 18, api_version 3, correlation_id 1
  Buffer.from([0x00, 0x07]), Buffer.from('rdkafka'), // client_id: classic NULLABLE_STRING even in header v2
  Buffer.from([0x00]), // header tagged fields
  Buffer.from([11]), Buffer.from('librdkafka'), // ClientSoftwareName: compact string (len+1)
  Buffer.from([7]), Buffer.from('2.15.0'), // ClientSoftwareVersion
  Buffer.from([0x00]), // body tagged fields
]);

test('the ApiVersions v3 request librdkafka sends first parses, and re-encodes to the same bytes', () => {
  const r = decodeRequest(LIBRDKAFKA_API_VERSIONS_V3);
  assert.ok(r.apiKey === ApiKey.ApiVersions);
  assert.equal(r.apiVersion, 3);
  assert.deepEqual(r.header, { requestApiKey: 18, requestApiVersion: 3, correlationId: 1, clientId: 'rdkafka' });
  assert.deepEqual(r.body, { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.15.0' });
  const again = encodeRequest(ApiKey.ApiVersions, 3, 1, 'rdkafka', r.body);
  assert.deepEqual(again.subarray(4), LIBRDKAFKA_API_VERSIONS_V3);
});

test('an ApiVersions request of an unknown version is answered in v0 format with error 35 and the ApiVersions range', () => {
  // v4 does not exist in 3.8.0: the header still parses (flexible 3+ → header v2), the body is not decoded.
  const v4 = Buffer.from(LIBRDKAFKA_API_VERSIONS_V3);
  v4.writeInt16BE(4, 2);
  const h = decodeRequestHeader(v4);
  assert.equal(h.headerVersion, 2);
  assert.equal(h.header.correlationId, 1);
  assert.equal(isSupportedVersion(ApiKey.ApiVersions, 4), false);
  assert.throws(() => decodeRequest(v4), isWire);

  const frame = encodeApiVersionsFallback(h.header.correlationId, [{ apiKey: 18, minVersion: 0, maxVersion: 3 }]);
  // size | correlation_id (response header v0, no tag byte) | error_code | int32 count | key, min, max
  assert.equal(frame.toString('hex'), '00000010' + '00000001' + '0023' + '00000001' + '0012' + '0000' + '0003');
  const { correlationId, body } = decodeResponse(frame.subarray(4), ApiKey.ApiVersions, 0);
  assert.equal(correlationId, 1);
  assert.equal(body.errorCode, ErrorCode.UNSUPPORTED_VERSION);
  assert.deepEqual(body.apiKeys, [{ apiKey: 18, minVersion: 0, maxVersion: 3 }]);
});

test('ApiVersions v3 responses use response header v0 but carry tagged fields in the body', () => {
  const frame = encodeResponse(ApiKey.ApiVersions, 3, 9, { errorCode: 0, apiKeys: [{ apiKey: 0, minVersion: 3, maxVersion: 9 }], throttleTimeMs: 0 });
  // size, correlation id 9, then straight to error_code: no header tag byte.
  assert.equal(frame.subarray(4, 10).toString('hex'), '00000009' + '0000');
  // error_code, compact array (1+1), entry + its tags, throttle, body tags
  assert.equal(frame.subarray(8).toString('hex'), '0000' + '02' + '0000' + '0003' + '0009' + '00' + '00000000' + '00');
});

test('header versions follow flexibleVersions, with the ApiVersions response exception', () => {
  assert.equal(requestHeaderVersion(ApiKey.Metadata, 8), 1);
  assert.equal(requestHeaderVersion(ApiKey.Metadata, 9), 2);
  assert.equal(requestHeaderVersion(ApiKey.SaslHandshake, 1), 1);
  assert.equal(requestHeaderVersion(9999, 0), 1);
  assert.equal(responseHeaderVersion(ApiKey.Metadata, 9), 1);
  assert.equal(responseHeaderVersion(ApiKey.Produce, 8), 0);
  assert.equal(responseHeaderVersion(ApiKey.ApiVersions, 3), 0);
});

test('fields absent in the decoded version hold their JSON defaults', () => {
  const v0 = encodeToBuffer(FetchRequestSchema, 0, { replicaId: -1, maxWaitMs: 500, minBytes: 1, topics: [{ topic: 't', partitions: [{ partition: 0, fetchOffset: 7, partitionMaxBytes: 100 }] }] });
  const r = decodeBuffer(v0, FetchRequestSchema, 0);
  assert.equal(r.maxBytes, 0x7fffffff);
  assert.equal(r.isolationLevel, 0);
  assert.equal(r.sessionEpoch, -1);
  assert.equal(r.clusterId, null);
  assert.deepEqual(r.replicaState, { replicaId: -1, replicaEpoch: -1 });
  assert.equal(r.topics[0].partitions[0].currentLeaderEpoch, -1);
  assert.equal(r.topics[0].topicId, ZERO_UUID);
});

test('known tagged fields round-trip, defaults are not sent, unknown tags are kept and re-encoded in tag order', () => {
  const value = { clusterId: 'c1', replicaState: { replicaId: 3, replicaEpoch: 9 }, maxWaitMs: 1, topics: [] };
  const buf = encodeToBuffer(FetchRequestSchema, 15, value);
  const r = decodeBuffer(buf, FetchRequestSchema, 15);
  assert.equal(r.clusterId, 'c1');
  assert.deepEqual(r.replicaState, { replicaId: 3, replicaEpoch: 9 });
  // Without the tagged values only an empty tag section (one 0x00) ends the body.
  const plain = encodeToBuffer(FetchRequestSchema, 15, { maxWaitMs: 1, topics: [] });
  assert.equal(plain[plain.length - 1], 0);
  assert.ok(buf.length > plain.length);

  // Splice an unknown tag 7 (3 bytes) into the body's tag section.
  const withUnknown = Buffer.concat([plain.subarray(0, plain.length - 1), Buffer.from([0x01, 0x07, 0x03, 0xaa, 0xbb, 0xcc])]);
  const u = decodeBuffer(withUnknown, FetchRequestSchema, 15);
  assert.deepEqual(u.unknownTaggedFields, [{ tag: 7, data: Buffer.from([0xaa, 0xbb, 0xcc]) }]);
  assert.deepEqual(encodeToBuffer(FetchRequestSchema, 15, u), withUnknown);
  // Known tag 0 goes before unknown tag 7.
  const both = encodeToBuffer(FetchRequestSchema, 15, { ...u, clusterId: 'x' });
  assert.deepEqual(decodeBuffer(both, FetchRequestSchema, 15).unknownTaggedFields, u.unknownTaggedFields);
  assert.deepEqual(both.subarray(both.length - 10), Buffer.from([0x02, 0x00, 0x02, 0x02, 0x78, 0x07, 0x03, 0xaa, 0xbb, 0xcc]));
});

test('a tagged field cannot read past its declared size', () => {
  const plain = encodeToBuffer(FetchRequestSchema, 12, { maxWaitMs: 1, topics: [] });
  // Tag 0 (ClusterId, a compact string) declares 1 byte but its content claims a 5-byte string.
  const bad = Buffer.concat([plain.subarray(0, plain.length - 1), Buffer.from([0x01, 0x00, 0x01, 0x06, 0x61, 0x62, 0x63, 0x64, 0x65])]);
  assert.throws(() => decodeBuffer(bad, FetchRequestSchema, 12), isWire);
});

test('nullable structs use the int8 presence marker', () => {
  const none = encodeToBuffer(ConsumerGroupHeartbeatResponseSchema, 0, { memberId: 'm', memberEpoch: 1, heartbeatIntervalMs: 5, assignment: null });
  assert.equal(decodeBuffer(none, ConsumerGroupHeartbeatResponseSchema, 0).assignment, null);
  const topicId = Buffer.alloc(16, 7).toString('base64url');
  const some = encodeToBuffer(ConsumerGroupHeartbeatResponseSchema, 0, { memberId: 'm', assignment: { topicPartitions: [{ topicId, partitions: [0, 1] }] } });
  // Same marker byte; then compact array (1), topic id (16), compact int32 array (1 + 8), entry tags (1), struct tags (1).
  assert.equal(some.length, none.length + 1 + 16 + 1 + 8 + 1 + 1);
  assert.deepEqual(decodeBuffer(some, ConsumerGroupHeartbeatResponseSchema, 0).assignment, { topicPartitions: [{ topicId, partitions: [0, 1] }] });
});

test('encoding refuses what the version cannot carry, and silently drops ignorable fields', () => {
  // IsolationLevel (4+) is ignorable: a v3 encoding just leaves it out.
  assert.doesNotThrow(() => encodeToBuffer(FetchRequestSchema, 3, { isolationLevel: 1, topics: [] }));
  // ForgottenTopicsData (7+) is not: losing it would change the request's meaning.
  assert.throws(() => encodeToBuffer(FetchRequestSchema, 6, { topics: [], forgottenTopicsData: [{ topic: 't', partitions: [1] }] }), KafkaEncodeError);
  assert.doesNotThrow(() => encodeToBuffer(FetchRequestSchema, 6, { topics: [], forgottenTopicsData: [] }));
  // null in a non-nullable field, and a version outside validVersions.
  assert.throws(() => encodeToBuffer(FetchRequestSchema, 4, { topics: [{ topic: null as unknown as string, partitions: [] }] }), KafkaEncodeError);
  assert.throws(() => encodeToBuffer(FetchRequestSchema, 99, { topics: [] }), KafkaEncodeError);
});

test('bad lengths and counts from the wire are WireErrors before anything is allocated', () => {
  // Metadata v1: topics int32 count 0x7fffffff in a 4-byte body.
  const huge = Buffer.from([0x7f, 0xff, 0xff, 0xff]);
  assert.throws(
    () => decodeBuffer(huge, MetadataRequestSchema, 1),
    (e: unknown) => e instanceof WireError && e.field === 'MetadataRequest.topics' && e.need > e.have,
  );
  // Compact count (varint 0xffffffff) in flexible v9.
  assert.throws(() => decodeBuffer(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), MetadataRequestSchema, 9), isWire);
  // A null (-1) array where the version does not allow null (v0 topics are non-nullable).
  assert.throws(() => decodeBuffer(Buffer.from([0xff, 0xff, 0xff, 0xff]), MetadataRequestSchema, 0), (e: unknown) => e instanceof WireError && /non-nullable/.test(e.message));
  // A -2 string length.
  assert.throws(() => decodeBuffer(Buffer.from([0, 0, 0, 1, 0xff, 0xfe]), MetadataRequestSchema, 1), (e: unknown) => e instanceof WireError && /negative length/.test(e.message));
  // int64 beyond 2^53 (Fetch v0 fetchOffset).
  const v0 = encodeToBuffer(FetchRequestSchema, 0, { topics: [{ topic: 't', partitions: [{ partition: 0, fetchOffset: 0 }] }] });
  v0.writeUInt32BE(0x7fffffff, v0.length - 12);
  assert.throws(() => decodeBuffer(v0, FetchRequestSchema, 0), isWire);
});

test('the error catalogue is the PROTOCOL-BASICS table', () => {
  assert.equal(ErrorCode.NONE, 0);
  assert.equal(ErrorCode.UNKNOWN_SERVER_ERROR, -1);
  assert.equal(ErrorCode.UNSUPPORTED_VERSION, 35);
  assert.equal(ErrorCode.INVALID_REQUEST, 42);
  assert.equal(ErrorCode.DELEGATION_TOKEN_EXPIRED, 66);
  assert.equal(ErrorCode.TRANSACTION_ABORTABLE, 120);
  const codes = KAFKA_ERROR_CODES.map((e) => e.code);
  assert.deepEqual(codes, [...codes].sort((a, b) => a - b));
  assert.equal(new Set(codes).size, codes.length);
  const retriable = KAFKA_ERROR_CODES.filter((e) => e.retriable).map((e) => e.code);
  assert.deepEqual(retriable, [3, 5, 6, 7, 13, 14, 15, 16, 19, 20, 51, 74, 75, 78, 88, 89]);
  assert.equal(KAFKA_ERROR_CODES.find((e) => e.code === 3)?.message, 'Unknown topic or partition.');
});

test('every API key kafkajs 2.2.4 or librdkafka 2.x requests that the specs define has a schema', () => {
  const have = new Set(API_INFOS.map((a) => a.apiKey));
  // CLIENTS.md §1, minus 43/45/46/50/51 whose JSON is not in the specs folder.
  for (const k of [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 28, 29, 30, 31, 32, 33, 36, 37, 42, 44, 47, 68, 69, 71, 72]) {
    assert.ok(have.has(k), `api key ${k}`);
  }
  // ConsumerGroupHeartbeat comes from the trunk JSON: librdkafka ≥2.10 needs v1.
  assert.deepEqual(API_INFOS.find((a) => a.apiKey === 68)?.validVersions, [0, 1]);
});
