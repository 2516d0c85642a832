/**
 * Request and response envelopes: header + body, per shared specs kafka/PROTOCOL-BASICS.md "Framing" and the
 * RequestHeader/ResponseHeader JSON.
 *
 *   request  = RequestHeader (v0: api_key int16, api_version int16, correlation_id int32;
 *                             v1: + client_id NULLABLE_STRING — never compact, even in v2;
 *                             v2: + tagged fields) ‖ body
 *   response = ResponseHeader (v0: correlation_id int32; v1: + tagged fields) ‖ body
 *
 * Header version: request v2 when the API version is flexible, else v1 (v0 only for ControlledShutdown v0, which
 * is not in the catalogue); response v1 when flexible, else v0 — except ApiVersions, whose responses always use
 * header v0 so that a client can read the reply without knowing the broker's version (KIP-511).
 *
 * Frames passed to decode* are what FrameSplitter returns (no size prefix; a large one may be ByteChunks, read in
 * place by ChunksReader, so a Produce's records stay views of the socket reads); encode* return whole frames with
 * the int32 size prefix, allocated once. decode* throw only WireError.
 */
import { BufferReader, BufferWriter, ByteChunks, ChunksReader, WireError } from '../../../wire/index.js';
import { API_INFOS, ApiKey, type ApiInfo, type RequestBodies, type ResponseBodies } from './api-keys.js';
import { decode, EncodeContext, sizeOf, write } from './generic-codec.js';
import { inRange, type Encodable, type MessageSchema } from './message-schema.js';
import { SIZE_PREFIX_BYTES } from './frame.js';
import { RequestHeaderSchema, type RequestHeader } from './schema/request-header.js';
import { ResponseHeaderSchema } from './schema/response-header.js';
import type { ApiVersionsResponse } from './schema/api-versions.js';

export type { RequestHeader };

const API_BY_KEY: Array<ApiInfo | undefined> = [];
for (const info of API_INFOS) API_BY_KEY[info.apiKey] = info;

/** The API's schemas and ranges, or undefined for a key the catalogue does not have. */
export function apiInfo(apiKey: number): ApiInfo | undefined {
  return apiKey >= 0 ? API_BY_KEY[apiKey] : undefined;
}

/** 2 for flexible API versions, else 1. Unknown APIs: 1 (enough to read the correlation id and reply). */
export function requestHeaderVersion(apiKey: number, apiVersion: number): number {
  const info = apiInfo(apiKey);
  return info !== undefined && inRange(info.flexibleVersions, apiVersion) ? 2 : 1;
}

/** 1 for flexible API versions, else 0; always 0 for ApiVersions. */
export function responseHeaderVersion(apiKey: number, apiVersion: number): number {
  if (apiKey === ApiKey.ApiVersions) return 0;
  const info = apiInfo(apiKey);
  return info !== undefined && inRange(info.flexibleVersions, apiVersion) ? 1 : 0;
}

/** True when the catalogue can decode this API at this version (the JSON's validVersions). */
export function isSupportedVersion(apiKey: number, apiVersion: number): boolean {
  const info = apiInfo(apiKey);
  return info !== undefined && apiVersion >= info.validVersions[0] && apiVersion <= info.validVersions[1];
}

export interface DecodedRequestHeader {
  readonly header: RequestHeader;
  readonly headerVersion: number;
  /** Offset of the body in the frame. */
  readonly bodyOffset: number;
}

/**
 * Reads the request header. Works for any API key and version — also ones the catalogue lacks — so the session
 * can answer UNSUPPORTED_VERSION (or the ApiVersions v0 fallback) with the right correlation id.
 */
export function decodeRequestHeader(frame: Buffer | ByteChunks): DecodedRequestHeader {
  const r = readerOf(frame, 0);
  // Peek key and version to choose the header version; decode() re-reads them.
  r.need('RequestHeader', 4);
  const headerVersion = requestHeaderVersion(frame.readInt16BE(0), frame.readInt16BE(2));
  const header = decode(r, RequestHeaderSchema, headerVersion);
  return { header, headerVersion, bodyOffset: r instanceof ChunksReader ? r.position : r.offset };
}

/** A reader from `position`: a frame kept as socket reads (FrameSplitter's ByteChunks) is read in place. */
function readerOf(frame: Buffer | ByteChunks, position: number): BufferReader {
  return frame instanceof ByteChunks ? new ChunksReader(frame, position) : new BufferReader(frame, position);
}

/** A decoded request: the union over API keys, so `switch (req.apiKey)` narrows `body`. */
export type KafkaRequest = {
  [K in keyof RequestBodies]: { readonly apiKey: K; readonly apiVersion: number; readonly header: RequestHeader; readonly body: RequestBodies[K] };
}[keyof RequestBodies];

/** Decodes the body after decodeRequestHeader(). Throws WireError for an API or version the catalogue lacks. */
export function decodeRequestBody(frame: Buffer | ByteChunks, h: DecodedRequestHeader): KafkaRequest {
  const { requestApiKey: apiKey, requestApiVersion: apiVersion } = h.header;
  const info = apiInfo(apiKey);
  if (info === undefined) throw WireError.invalid('RequestHeader.requestApiKey', 0, `unknown api key ${apiKey}`);
  const body = decode(readerOf(frame, h.bodyOffset), info.request, apiVersion);
  return { apiKey, apiVersion, header: h.header, body } as KafkaRequest;
}

/** Header and body of one request frame. */
export function decodeRequest(frame: Buffer): KafkaRequest {
  return decodeRequestBody(frame, decodeRequestHeader(frame));
}

const ctx = new EncodeContext();

function frameOf(headerSchema: MessageSchema, headerVersion: number, header: object, bodySchema: MessageSchema, version: number, body: object): Buffer {
  ctx.reset();
  const hs = sizeOf(headerSchema, headerVersion, header, ctx);
  const bs = sizeOf(bodySchema, version, body, ctx);
  const w = BufferWriter.alloc(SIZE_PREFIX_BYTES + hs + bs);
  w.writeInt32(hs + bs);
  ctx.rewind();
  write(w, headerSchema, headerVersion, header, ctx);
  write(w, bodySchema, version, body, ctx);
  return w.buf;
}

/** A whole response frame (size prefix, header, body) for `apiKey` v`apiVersion`. */
export function encodeResponse<K extends keyof ResponseBodies>(apiKey: K, apiVersion: number, correlationId: number, body: Encodable<ResponseBodies[K]>): Buffer {
  const info = apiInfo(apiKey);
  if (info === undefined) throw new RangeError(`unknown api key ${apiKey}`);
  return frameOf(ResponseHeaderSchema, responseHeaderVersion(apiKey, apiVersion), { correlationId }, info.response, apiVersion, body as object);
}

/** A whole request frame, as a client sends it (tests, captures, benchmarks). */
export function encodeRequest<K extends keyof RequestBodies>(apiKey: K, apiVersion: number, correlationId: number, clientId: string | null, body: Encodable<RequestBodies[K]>): Buffer {
  const info = apiInfo(apiKey);
  if (info === undefined) throw new RangeError(`unknown api key ${apiKey}`);
  const header = { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId, clientId };
  return frameOf(RequestHeaderSchema, requestHeaderVersion(apiKey, apiVersion), header, info.request, apiVersion, body as object);
}

/** Correlation id and body of one response frame to a request of `apiKey` v`apiVersion`. */
export function decodeResponse<K extends keyof ResponseBodies>(frame: Buffer, apiKey: K, apiVersion: number): { correlationId: number; body: ResponseBodies[K] } {
  const info = apiInfo(apiKey);
  if (info === undefined) throw WireError.invalid('ResponseHeader', 0, `unknown api key ${apiKey}`);
  const r = new BufferReader(frame);
  const { correlationId } = decode(r, ResponseHeaderSchema, responseHeaderVersion(apiKey, apiVersion));
  return { correlationId, body: decode(r, info.response, apiVersion) as ResponseBodies[K] };
}

/**
 * The answer to an ApiVersions request of a version this broker does not know (PROTOCOL-BASICS "ApiVersions
 * behaviour"): a v0-format body — error_code 35 UNSUPPORTED_VERSION and the int32-count array of
 * (api_key, min, max), which must include ApiVersions itself — so the client retries with a version it finds
 * there. Response header v0.
 */
export function encodeApiVersionsFallback(correlationId: number, apiKeys: Encodable<ApiVersionsResponse.ApiVersion>[]): Buffer {
  return encodeResponse(ApiKey.ApiVersions, 0, correlationId, { errorCode: 35, apiKeys });
}
