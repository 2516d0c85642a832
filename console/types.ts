/** The JSON shapes of the HTTP API the console reads (docs/http-api.md). */

export interface StreamSummary {
  name: string;
  partitions: number;
  subjects: string[];
  retention: string;
}

export interface PartitionOffsets {
  partition: number;
  startOffset: number;
  endOffset: number;
  highWatermark: number;
}

export interface StreamDetail extends Omit<StreamSummary, 'partitions'> {
  storage: string;
  partitions: PartitionOffsets[];
  configs: Array<{ name: string; value: string | null; isDefault: boolean; doc?: string }>;
}

export interface HeaderJson {
  key: string;
  value: string | null;
  encoding: 'text' | 'base64' | null;
}

export interface MessageJson {
  subject: string;
  timestamp: number;
  key: string | null;
  keyEncoding: 'text' | 'base64' | null;
  value: string | null;
  encoding: 'text' | 'base64' | null;
  headers: HeaderJson[];
  replyTo?: string;
}

export interface RecordJson extends MessageJson {
  offset: number;
}

export interface RecordPage {
  partition: number;
  records: RecordJson[];
  nextOffset: number;
  highWatermark: number;
}

export interface QueueJson {
  name: string;
  /** The AMQP virtual host (absent on older servers); `name` is the name within it. */
  vhost?: string;
  stream: string;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  messages: number;
  unacked: number;
  consumers: number;
  /** Cumulative: every message ever appended / settled (absent on older servers). */
  messagesIn?: number;
  messagesOut?: number;
  bindings: Array<{ source: string; routingKey: string }>;
}

export interface GroupSummary {
  groupId: string;
  state: string;
  protocolType: string;
  members: number | unknown[];
}

export interface GroupDetail {
  groupId: string;
  state: string;
  protocolType: string;
  protocol: string;
  generationId: number;
  members: Array<{ memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string; assignment: Array<{ topic: string; partitions: number[] }> }>;
  offsets: Array<{ topic: string; partition: number; committedOffset: number; endOffset: number; lag: number; metadata: string | null }>;
  totalLag: number;
}

export interface ConnectionJson {
  id: string | number;
  protocol: string;
  remoteAddress: string | null;
  remotePort?: number | null;
  principal: string | null;
  clientId: string | null;
  connectedAt: number | string;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

export interface StatsJson {
  timestamp: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  connections: { [protocol: string]: number };
  diskBytes: number;
}

export interface StatusJson {
  version: string;
  uptimeMs: number;
  listeners: unknown;
  totals: { streams: number; queues: number; exchanges: number; groups: number; connections: number };
}
