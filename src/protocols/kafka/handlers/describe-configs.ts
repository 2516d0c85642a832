/**
 * DescribeConfigs (32): a topic's configs with their effective values (resource type 2). Broker resources
 * (type 4) are answered with an empty list: broker settings live in Tributary's own configuration.
 */
import type { DescribeConfigsRequest, DescribeConfigsResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';
import { CONFIG_SOURCE_DEFAULT, CONFIG_SOURCE_TOPIC } from './topic-description.js';

const RESOURCE_TOPIC = 2;
const RESOURCE_BROKER = 4;
/** ConfigType STRING (2): every stream config is presented as its string form. */
const CONFIG_TYPE_STRING = 2;

export function handleDescribeConfigs(ctx: KafkaContext, session: SessionState, req: DescribeConfigsRequest): Encodable<DescribeConfigsResponse> {
  const results: Encodable<DescribeConfigsResponse.DescribeConfigsResult>[] = [];
  for (const r of req.resources) {
    const base = { resourceType: r.resourceType, resourceName: r.resourceName };
    if (r.resourceType === RESOURCE_BROKER) {
      results.push({ ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs: [] });
      continue;
    }
    if (r.resourceType !== RESOURCE_TOPIC) {
      results.push({ ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `resource type ${r.resourceType} is not supported`, configs: [] });
      continue;
    }
    try {
      ctx.broker.check(session.principal, 'describe', 'stream', r.resourceName);
      const stream = ctx.broker.requireStream(r.resourceName);
      const wanted = r.configurationKeys === null ? null : new Set(r.configurationKeys);
      const configs = stream
        .configEntries()
        .filter((e) => wanted === null || wanted.has(e.name))
        .map((e) => ({
          name: e.name,
          value: e.value,
          readOnly: false,
          isDefault: e.isDefault,
          configSource: e.isDefault ? CONFIG_SOURCE_DEFAULT : CONFIG_SOURCE_TOPIC,
          isSensitive: false,
          synonyms: [],
          configType: CONFIG_TYPE_STRING,
          documentation: req.includeDocumentation ? e.doc : null,
        }));
      results.push({ ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs });
    } catch (err) {
      const e = kafkaErrorOf(err);
      results.push({ ...base, errorCode: e.code, errorMessage: e.message, configs: [] });
    }
  }
  return { throttleTimeMs: 0, results };
}
