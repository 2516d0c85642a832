/** ApiVersions (18): the advertised table (PROTOCOL-BASICS "ApiVersions behaviour"). */
import type { ApiVersionsRequest, ApiVersionsResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import { ADVERTISED_APIS } from '../api-versions.js';

/** Kafka's check of KIP-511 client software names and versions. */
const SOFTWARE = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

export function handleApiVersions(req: ApiVersionsRequest, version: number): Encodable<ApiVersionsResponse> {
  const apiKeys = ADVERTISED_APIS.map((a) => ({ apiKey: a.apiKey, minVersion: a.minVersion, maxVersion: a.maxVersion }));
  if (version >= 3 && (!SOFTWARE.test(req.clientSoftwareName) || !SOFTWARE.test(req.clientSoftwareVersion))) {
    // librdkafka retries with v0 on INVALID_REQUEST.
    return { errorCode: ErrorCode.INVALID_REQUEST, apiKeys, throttleTimeMs: 0 };
  }
  return { errorCode: ErrorCode.NONE, apiKeys, throttleTimeMs: 0 };
}
