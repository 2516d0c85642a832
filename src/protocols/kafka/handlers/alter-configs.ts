/**
 * AlterConfigs (33, v0–2) and IncrementalAlterConfigs (44, v0–1) for topics (resource type 2), through the core's
 * alterStreamConfigs (validated all or nothing, persisted, validateOnly honoured). AlterConfigs replaces the
 * topic's whole explicit config set, as Kafka does: keys not named revert to their defaults. Incremental
 * operations: 0 SET, 1 DELETE (revert to default), 2 APPEND and 3 SUBTRACT on comma-separated list configs
 * (cleanup.policy, subjects). Broker resources (type 4) are refused with INVALID_REQUEST: broker settings live
 * in Tributary's own configuration. Unknown keys and bad values: INVALID_CONFIG.
 */
import type { AlterConfigsRequest, AlterConfigsResponse, Encodable, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';

const RESOURCE_TOPIC = 2;
const OP_SET = 0;
const OP_DELETE = 1;
const OP_APPEND = 2;
const OP_SUBTRACT = 3;

type ResourceResponse = Encodable<AlterConfigsResponse.AlterConfigsResourceResponse>;
type Changes = { [key: string]: string | null };

class RequestError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

async function alterResource(
  ctx: KafkaContext,
  session: SessionState,
  resourceType: number,
  resourceName: string,
  validateOnly: boolean,
  changesOf: () => Changes,
): Promise<ResourceResponse> {
  const base = { resourceType, resourceName };
  if (resourceType !== RESOURCE_TOPIC) {
    return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `resource type ${resourceType} cannot be altered here (only topics, type 2)` };
  }
  try {
    ctx.broker.check(session.principal, 'alter', 'stream', resourceName);
    await ctx.broker.alterStreamConfigs(session.principal, resourceName, changesOf(), { validateOnly });
    return { ...base, errorCode: ErrorCode.NONE, errorMessage: null };
  } catch (err) {
    if (err instanceof RequestError) return { ...base, errorCode: err.code, errorMessage: err.message };
    const e = kafkaErrorOf(err);
    return { ...base, errorCode: e.code, errorMessage: e.message };
  }
}

export async function handleAlterConfigs(ctx: KafkaContext, session: SessionState, req: AlterConfigsRequest): Promise<Encodable<AlterConfigsResponse>> {
  const responses: ResourceResponse[] = [];
  for (const r of req.resources) {
    responses.push(
      await alterResource(ctx, session, r.resourceType, r.resourceName, req.validateOnly, () => {
        const changes: Changes = {};
        // Full replacement: every explicit config not in the request goes back to its default.
        for (const e of ctx.broker.requireStream(r.resourceName).configEntries()) if (!e.isDefault) changes[e.name] = null;
        for (const c of r.configs) changes[c.name] = c.value;
        return changes;
      }),
    );
  }
  return { throttleTimeMs: 0, responses };
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export async function handleIncrementalAlterConfigs(ctx: KafkaContext, session: SessionState, req: IncrementalAlterConfigsRequest): Promise<Encodable<IncrementalAlterConfigsResponse>> {
  const responses: Encodable<IncrementalAlterConfigsResponse.AlterConfigsResourceResponse>[] = [];
  for (const r of req.resources) {
    responses.push(
      await alterResource(ctx, session, r.resourceType, r.resourceName, req.validateOnly, () => {
        const stream = ctx.broker.requireStream(r.resourceName);
        const changes: Changes = {};
        const current = (name: string): string => (Object.hasOwn(changes, name) ? (changes[name] ?? stream.configValue(name)) : stream.configValue(name));
        for (const c of r.configs) {
          if (Object.hasOwn(changes, c.name)) throw new RequestError(ErrorCode.INVALID_REQUEST, `config '${c.name}' appears more than once`);
          switch (c.configOperation) {
            case OP_SET:
              changes[c.name] = c.value;
              break;
            case OP_DELETE:
              changes[c.name] = null;
              break;
            case OP_APPEND:
            case OP_SUBTRACT: {
              if (c.value === null) throw new RequestError(ErrorCode.INVALID_REQUEST, `config '${c.name}': ${c.configOperation === OP_APPEND ? 'APPEND' : 'SUBTRACT'} needs a value`);
              const list = splitList(current(c.name));
              const items = splitList(c.value);
              const next = c.configOperation === OP_APPEND ? [...list, ...items.filter((i) => !list.includes(i))] : list.filter((i) => !items.includes(i));
              changes[c.name] = next.join(',');
              break;
            }
            default:
              throw new RequestError(ErrorCode.INVALID_REQUEST, `config '${c.name}': unknown operation ${c.configOperation}`);
          }
        }
        return changes;
      }),
    );
  }
  return { throttleTimeMs: 0, responses };
}
