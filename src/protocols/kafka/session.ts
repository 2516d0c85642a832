/**
 * KafkaSession: one client connection. Owns the byte stream (any Duplex: a net.Socket, a TLS socket, an
 * in-memory pair in tests), cuts it into frames (FrameSplitter, bounded by socket.request.max.bytes), and
 * answers requests in order. acks=0 Produce gets no response.
 *
 * Pipelining: consecutive Produce requests overlap. The next one starts as soon as the previous one's appends
 * are issued (the log has taken their offsets, so per-partition order is arrival order), and their fsyncs
 * share group commits; responses are still written in request order. Any other request waits until every
 * earlier response is written and is handled alone, as Kafka does by muting a channel with a request in
 * flight — so a ListOffsets or Fetch after a Produce on the same connection sees that Produce.
 *
 * Bad input: an oversized or malformed frame, an API key or version not advertised, or an unexpected failure
 * in a handler logs one line and closes this connection only (DESIGN "Bad input"). Nothing thrown here
 * escapes the session. ApiVersions of an unknown version is answered with the v0-format fallback (error 35).
 *
 * Backpressure: reading pauses while MAX_QUEUED_FRAMES requests wait, and the next request waits for 'drain'
 * when the socket's write buffer is full.
 */
import type { Duplex } from 'node:stream';
import {
  ApiKey,
  FrameSplitter,
  decodeRequestBody,
  decodeRequestHeader,
  encodeApiVersionsFallback,
  encodeResponse as encodeExact,
  apiInfo,
  fitToVersion,
  type DecodedRequestHeader,
  type KafkaRequest,
} from './codec/index.js';
import { ByteChunks } from '../../wire/index.js';
import { anonymousPrincipal } from '../../core/principal.js';
import { ADVERTISED_APIS, isAdvertised } from './api-versions.js';
import type { KafkaContext, SessionState } from './context.js';
import { handleApiVersions } from './handlers/api-versions.js';
import { handleMetadata } from './handlers/metadata.js';
import { handleCreateTopics } from './handlers/create-topics.js';
import { handleDeleteTopics } from './handlers/delete-topics.js';
import { handleCreatePartitions } from './handlers/create-partitions.js';
import { handleDescribeConfigs } from './handlers/describe-configs.js';
import { startProduce } from './handlers/produce.js';
import { handleFetch } from './handlers/fetch.js';
import { handleListOffsets } from './handlers/list-offsets.js';
import { handleFindCoordinator } from './handlers/find-coordinator.js';
import { handleJoinGroup } from './handlers/join-group.js';
import { handleSyncGroup } from './handlers/sync-group.js';
import { handleHeartbeat } from './handlers/heartbeat.js';
import { handleLeaveGroup } from './handlers/leave-group.js';
import { handleOffsetCommit } from './handlers/offset-commit.js';
import { handleOffsetFetch } from './handlers/offset-fetch.js';
import { handleListGroups } from './handlers/list-groups.js';
import { handleDescribeGroups } from './handlers/describe-groups.js';
import { handleDeleteGroups } from './handlers/delete-groups.js';
import { authenticatePlain, handleSaslHandshake } from './handlers/sasl.js';
import { handleInitProducerId } from './handlers/init-producer-id.js';
import { handleAddPartitionsToTxn } from './handlers/add-partitions-to-txn.js';
import { handleAddOffsetsToTxn } from './handlers/add-offsets-to-txn.js';
import { handleEndTxn } from './handlers/end-txn.js';
import { handleTxnOffsetCommit } from './handlers/txn-offset-commit.js';
import { handleDeleteRecords } from './handlers/delete-records.js';
import { handleAlterConfigs, handleIncrementalAlterConfigs } from './handlers/alter-configs.js';
import { handleDescribeCluster } from './handlers/describe-cluster.js';
import { handleOffsetForLeaderEpoch } from './handlers/offset-for-leader-epoch.js';
import { handleOffsetDelete } from './handlers/offset-delete.js';
import { ErrorCode } from './codec/index.js';

/** encodeResponse with the body reduced to the fields its version has (codec/version-fit.ts). */
const encodeResponse: typeof encodeExact = (apiKey, version, correlationId, body) =>
  encodeExact(apiKey, version, correlationId, fitToVersion(apiInfo(apiKey)!.response, version, body));

/** Requests read ahead of the one being handled before the socket is paused. */
const MAX_QUEUED_FRAMES = 32;
/** Produce requests whose responses may be outstanding at once (librdkafka's default in-flight limit is 1M). */
const MAX_PIPELINED = 16;

export interface SessionOptions {
  id: number;
  remoteAddress?: string;
  remotePort?: number;
  maxFrameBytes: number;
}

export class KafkaSession {
  readonly state: SessionState;
  /** Requests received and responses sent, for the connection registry (plain increments). */
  readonly traffic = { messagesIn: 0, messagesOut: 0 };
  /** The client.id of the latest request header. */
  clientId: string | null = null;
  private readonly splitter: FrameSplitter;
  private readonly queue: Array<Buffer | ByteChunks> = [];
  private processing = false;
  /** Written once every earlier response is written; pipelined responses chain onto it in request order. */
  private responded: Promise<void> = Promise.resolve();
  private pipelined = 0;
  private paused = false;
  private closed = false;
  private readonly abort = new AbortController();
  /** SaslHandshake v0 succeeded: the next frame is a raw PLAIN token, not a Kafka request. */
  private rawSaslPending = false;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    private readonly socket: Duplex,
    private readonly ctx: KafkaContext,
    private readonly options: SessionOptions,
  ) {
    this.splitter = new FrameSplitter({ maxFrameBytes: options.maxFrameBytes });
    this.state = {
      id: options.id,
      principal: anonymousPrincipal(options.remoteAddress),
      clientHost: `/${options.remoteAddress ?? 'unknown'}`,
      peerAddress: options.remoteAddress,
      saslMechanism: null,
      signal: this.abort.signal,
    };
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.ctx.logger.debug({ session: this.options.id, err }, 'kafka connection error');
      this.close();
    });
    socket.on('close', () => this.close());
    socket.on('end', () => this.close());
  }

  /** Resolves once the connection is closed. */
  get closed$(): Promise<void> {
    return this.closedPromise;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.splitter.push(chunk);
      for (let f = this.splitter.next(); f !== null; f = this.splitter.next()) this.queue.push(f);
    } catch (err) {
      this.fail('bad frame', err);
      return;
    }
    if (this.queue.length >= MAX_QUEUED_FRAMES && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const frame = this.queue.shift()!;
        if (this.paused && this.queue.length < MAX_QUEUED_FRAMES / 2) {
          this.paused = false;
          this.socket.resume();
        }
        await this.handleFrame(frame);
      }
    } catch (err) {
      this.fail('request failed', err);
    } finally {
      this.processing = false;
    }
  }

  private async handleFrame(frame: Buffer | ByteChunks): Promise<void> {
    if (this.rawSaslPending) {
      this.rawSaslPending = false;
      await this.responded;
      const res = await authenticatePlain(this.ctx, this.state, frame instanceof ByteChunks ? frame.join() : frame);
      if (res.errorCode !== ErrorCode.NONE) return this.fail('SASL authentication failed', undefined);
      // A raw SASL exchange answers success with an empty token, framed by its length.
      return this.write(Buffer.alloc(4));
    }
    // Only a Produce is decoded from a large frame's socket reads in place (its records go to the log as they
    // are); any other frame that large is joined (rare: big JoinGroup metadata).
    if (frame instanceof ByteChunks && frame.readInt16BE(0) !== ApiKey.Produce) frame = frame.join();
    let h: DecodedRequestHeader;
    try {
      h = decodeRequestHeader(frame);
    } catch (err) {
      return this.fail('malformed request header', err);
    }
    const { requestApiKey: apiKey, requestApiVersion: version, correlationId } = h.header;
    this.traffic.messagesIn++;
    this.clientId = h.header.clientId ?? null;
    if (apiKey === ApiKey.ApiVersions && !isAdvertised(apiKey, version)) {
      // PROTOCOL-BASICS: the v0-format answer with error 35 and our table, so the client retries lower.
      await this.responded;
      return this.write(encodeApiVersionsFallback(correlationId, ADVERTISED_APIS.map((a) => ({ ...a }))));
    }
    if (!isAdvertised(apiKey, version)) {
      return this.fail('unsupported api key or version', undefined, { apiKey, apiVersion: version, clientId: h.header.clientId });
    }
    let req: KafkaRequest;
    try {
      req = decodeRequestBody(frame, h);
    } catch (err) {
      return this.fail('malformed request body', err, { apiKey, apiVersion: version });
    }
    if (req.apiKey === ApiKey.Produce) return this.pipelineProduce(req);
    await this.responded;
    if (this.closed) return;
    const response = await this.dispatch(req);
    if (response !== null && !this.closed) await this.write(response);
    if (response !== null) this.traffic.messagesOut++;
    if (req.apiKey === ApiKey.SaslAuthenticate && this.state.principal.authenticated === false && response !== null) {
      // Kafka closes the connection after a failed authentication.
      this.close();
    }
  }

  /** Starts a Produce, queues its response behind the earlier ones, and returns once its appends are issued. */
  private async pipelineProduce(req: Extract<KafkaRequest, { apiKey: typeof ApiKey.Produce }>): Promise<void> {
    if (this.pipelined >= MAX_PIPELINED) await this.responded;
    if (this.closed) return;
    const { issued, response } = startProduce(this.ctx, this.state, req.body);
    const v = req.apiVersion;
    const cid = req.header.correlationId;
    this.pipelined++;
    const before = this.responded;
    this.responded = (async () => {
      try {
        const body = await response;
        await before;
        if (body === null || this.closed) return;
        await this.write(encodeResponse(ApiKey.Produce, v, cid, body));
        this.traffic.messagesOut++;
      } catch (err) {
        this.fail('request failed', err, { apiKey: ApiKey.Produce, apiVersion: v });
      } finally {
        this.pipelined--;
      }
    })();
    await issued;
  }

  /** Runs the handler and encodes its answer; null when nothing is sent back (acks=0). */
  private async dispatch(req: KafkaRequest): Promise<Buffer | null> {
    const { ctx, state } = this;
    const v = req.apiVersion;
    const cid = req.header.correlationId;
    switch (req.apiKey) {
      case ApiKey.ApiVersions:
        return encodeResponse(req.apiKey, v, cid, handleApiVersions(req.body, v));
      case ApiKey.Metadata:
        return encodeResponse(req.apiKey, v, cid, await handleMetadata(ctx, state, req.body, v));
      case ApiKey.CreateTopics:
        return encodeResponse(req.apiKey, v, cid, await handleCreateTopics(ctx, state, req.body));
      case ApiKey.DeleteTopics:
        return encodeResponse(req.apiKey, v, cid, await handleDeleteTopics(ctx, state, req.body));
      case ApiKey.CreatePartitions:
        return encodeResponse(req.apiKey, v, cid, await handleCreatePartitions(ctx, state, req.body));
      case ApiKey.DescribeConfigs:
        return encodeResponse(req.apiKey, v, cid, handleDescribeConfigs(ctx, state, req.body));
      case ApiKey.Fetch:
        return encodeResponse(req.apiKey, v, cid, await handleFetch(ctx, state, req.body));
      case ApiKey.ListOffsets:
        return encodeResponse(req.apiKey, v, cid, await handleListOffsets(ctx, state, req.body, v));
      case ApiKey.FindCoordinator:
        return encodeResponse(req.apiKey, v, cid, handleFindCoordinator(ctx, req.body, v));
      case ApiKey.JoinGroup:
        return encodeResponse(req.apiKey, v, cid, await handleJoinGroup(ctx, state, req.body, req.header.clientId ?? ''));
      case ApiKey.SyncGroup:
        return encodeResponse(req.apiKey, v, cid, await handleSyncGroup(ctx, req.body));
      case ApiKey.Heartbeat:
        return encodeResponse(req.apiKey, v, cid, handleHeartbeat(ctx, req.body));
      case ApiKey.LeaveGroup:
        return encodeResponse(req.apiKey, v, cid, handleLeaveGroup(ctx, req.body, v));
      case ApiKey.OffsetCommit:
        return encodeResponse(req.apiKey, v, cid, await handleOffsetCommit(ctx, state, req.body));
      case ApiKey.OffsetFetch:
        return encodeResponse(req.apiKey, v, cid, handleOffsetFetch(ctx, state, req.body));
      case ApiKey.ListGroups:
        return encodeResponse(req.apiKey, v, cid, handleListGroups(ctx, req.body));
      case ApiKey.DescribeGroups:
        return encodeResponse(req.apiKey, v, cid, handleDescribeGroups(ctx, req.body));
      case ApiKey.DeleteGroups:
        return encodeResponse(req.apiKey, v, cid, await handleDeleteGroups(ctx, state, req.body));
      case ApiKey.SaslHandshake: {
        const body = handleSaslHandshake(state, req.body);
        if (v === 0 && body.errorCode === ErrorCode.NONE) this.rawSaslPending = true;
        return encodeResponse(req.apiKey, v, cid, body);
      }
      case ApiKey.SaslAuthenticate:
        return encodeResponse(req.apiKey, v, cid, await authenticatePlain(ctx, state, req.body.authBytes));
      case ApiKey.InitProducerId:
        return encodeResponse(req.apiKey, v, cid, await handleInitProducerId(ctx, req.body, v));
      case ApiKey.AddPartitionsToTxn:
        return encodeResponse(req.apiKey, v, cid, await handleAddPartitionsToTxn(ctx, state, req.body, v));
      case ApiKey.AddOffsetsToTxn:
        return encodeResponse(req.apiKey, v, cid, await handleAddOffsetsToTxn(ctx, state, req.body, v));
      case ApiKey.EndTxn:
        return encodeResponse(req.apiKey, v, cid, await handleEndTxn(ctx, req.body, v));
      case ApiKey.TxnOffsetCommit:
        return encodeResponse(req.apiKey, v, cid, await handleTxnOffsetCommit(ctx, state, req.body, v));
      case ApiKey.DeleteRecords:
        return encodeResponse(req.apiKey, v, cid, await handleDeleteRecords(ctx, state, req.body));
      case ApiKey.AlterConfigs:
        return encodeResponse(req.apiKey, v, cid, await handleAlterConfigs(ctx, state, req.body));
      case ApiKey.IncrementalAlterConfigs:
        return encodeResponse(req.apiKey, v, cid, await handleIncrementalAlterConfigs(ctx, state, req.body));
      case ApiKey.DescribeCluster:
        return encodeResponse(req.apiKey, v, cid, handleDescribeCluster(ctx, req.body));
      case ApiKey.OffsetForLeaderEpoch:
        return encodeResponse(req.apiKey, v, cid, handleOffsetForLeaderEpoch(ctx, state, req.body));
      case ApiKey.OffsetDelete:
        return encodeResponse(req.apiKey, v, cid, await handleOffsetDelete(ctx, state, req.body));
      default:
        // isAdvertised() let it through, so a handler is missing: a bug, reported like any handler failure.
        throw new Error(`no handler for api key ${req.apiKey}`);
    }
  }

  private write(frame: Buffer): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.socket.write(frame)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  private fail(reason: string, err: unknown, extra: object = {}): void {
    if (this.closed) return;
    this.ctx.logger.warn(
      { session: this.options.id, peer: `${this.options.remoteAddress}:${this.options.remotePort}`, protocol: 'kafka', err, ...extra },
      `closing kafka connection: ${reason}`,
    );
    this.close();
  }

  /** Closes the connection; pending long polls and waits give up. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.abort.abort();
    this.socket.destroy();
    this.resolveClosed();
  }
}
