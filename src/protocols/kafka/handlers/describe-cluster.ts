/**
 * DescribeCluster (60, v0–1): the single node as broker and controller, with the cluster id kept in the
 * metadata store. Endpoint type 1 (brokers) only; asking this broker for controllers (type 2) is
 * MISMATCHED_ENDPOINT_TYPE, as Kafka answers on a broker listener. Authorized operations are not computed
 * (INT32_MIN = "not requested/unknown").
 */
import type { DescribeClusterRequest, DescribeClusterResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext } from '../context.js';

const ENDPOINT_BROKERS = 1;
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

export function handleDescribeCluster(ctx: KafkaContext, req: DescribeClusterRequest): Encodable<DescribeClusterResponse> {
  const base = { throttleTimeMs: 0, endpointType: req.endpointType, clusterId: ctx.clusterId, controllerId: ctx.nodeId, clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED };
  if (req.endpointType !== ENDPOINT_BROKERS) {
    return { ...base, errorCode: ErrorCode.MISMATCHED_ENDPOINT_TYPE, errorMessage: `endpoint type ${req.endpointType} is not served here (brokers = 1)`, controllerId: -1, brokers: [] };
  }
  return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, brokers: [{ brokerId: ctx.nodeId, host: ctx.advertisedHost, port: ctx.advertisedPort, rack: null }] };
}
