/**
 * The Kafka codec's public surface: pure bytes ↔ typed requests/responses (DESIGN "Layers"). Imports only
 * wire/ (and, for record batches, storage/record-batch — not needed here: records stay Buffers).
 */
export { fitToVersion } from './version-fit.js';
export { FrameSplitter, DEFAULT_MAX_FRAME_BYTES, SIZE_PREFIX_BYTES, writeFrameSize } from './frame.js';
export { decode, decodeBuffer, encode, encodeToBuffer, encodedSize, sizeOf, write, EncodeContext, KafkaEncodeError } from './generic-codec.js';
export {
  apiInfo,
  decodeRequest,
  decodeRequestBody,
  decodeRequestHeader,
  decodeResponse,
  encodeApiVersionsFallback,
  encodeRequest,
  encodeResponse,
  isSupportedVersion,
  requestHeaderVersion,
  responseHeaderVersion,
  type DecodedRequestHeader,
  type KafkaRequest,
  type RequestHeader,
} from './messages.js';
export { V_MAX, ZERO_UUID, inRange, type Encodable, type FieldSpec, type MessageSchema, type RawTaggedField, type TaggedStruct, type VersionRange } from './message-schema.js';
export { API_INFOS, ApiKey, type ApiInfo, type RequestBodies, type ResponseBodies } from './api-keys.js';
export { ErrorCode, KAFKA_ERROR_CODES, type KafkaErrorCode } from './error-codes.js';
export * from './schema/index.js';
