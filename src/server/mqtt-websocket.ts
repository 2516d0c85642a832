/**
 * MQTT over WebSocket (MQTT 5.0 §6, 3.1.1 §6) at `GET /mqtt` on the HTTP port: the upgrade is answered with the
 * `mqtt` subprotocol (`mqttv3.1` for 3.1 clients) and the connection is handed, as a byte Duplex over binary
 * frames (ws `createWebSocketStream`), to the MQTT listener of the same broker — the same MqttSession as TCP.
 *
 * The HTTP plugin starts before the MQTT listener, so the listener is looked up per upgrade
 * (`mqttListenerOf(broker)`); without one (MQTT not started, or stopping) the request gets 503.
 *
 * Upgrades reach this route through fastify's routing: @fastify/websocket (registered by the HTTP API, which
 * http.ts registers whenever it registers this route) listens to the server's 'upgrade' event and routes every
 * upgrade request. This route is outside that plugin's scope, so it upgrades with its own ws server, whose
 * maxPayload follows the MQTT packet limit instead of the API's 64 KiB (test/integration/mqtt/websocket.test.ts
 * proves the path through the served binary).
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws';
import type { Broker } from '../core/broker.js';
import { mqttListenerOf } from '../protocols/mqtt/index.js';

export const MQTT_WEBSOCKET_PATH = '/mqtt';
const EMPTY = Buffer.alloc(0);

/** [MQTT-6.0.0-4] the server answers `mqtt`; `mqttv3.1` is what 3.1 clients offer. */
function pickSubprotocol(offered: Set<string>): string | false {
  if (offered.has('mqtt')) return 'mqtt';
  if (offered.has('mqttv3.1')) return 'mqttv3.1';
  return false;
}

/** The bytes read past the upgrade request, which @fastify/websocket keeps on the request under a symbol. */
function upgradeHead(req: IncomingMessage): Buffer {
  for (const s of Object.getOwnPropertySymbols(req)) {
    if (s.description === 'ws-head') {
      const head = (req as unknown as { [k: symbol]: unknown })[s];
      if (Buffer.isBuffer(head)) return head;
    }
  }
  return EMPTY;
}

/** Largest WebSocket frame: an MQTT packet may span frames, so this bounds memory per frame, not packet size. */
const MAX_FRAME_BYTES = 16 * 1024 * 1024 + 8;

export async function registerMqttWebSocket(app: FastifyInstance, options: { broker: Broker }): Promise<void> {
  const broker = options.broker;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, handleProtocols: pickSubprotocol });

  const serve = (ws: WebSocket, req: IncomingMessage): void => {
    const listener = mqttListenerOf(broker);
    if (listener === undefined) {
      ws.close(1013, 'mqtt is not running');
      return;
    }
    // [MQTT-6.0.0-1] a text frame is a protocol violation: close.
    ws.on('message', (_data, isBinary) => {
      if (!isBinary) ws.close(1003, 'mqtt needs binary frames');
    });
    const duplex = createWebSocketStream(ws);
    duplex.on('error', () => undefined); // the session sees 'close'; ws errors are the client's
    listener.handle(duplex, req.socket.remoteAddress, req.socket.remotePort);
  };

  app.get(MQTT_WEBSOCKET_PATH, (req, reply) => {
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') {
      reply.code(426).header('upgrade', 'websocket').send({ error: 'MQTT over WebSocket: upgrade with subprotocol mqtt' });
      return;
    }
    if (mqttListenerOf(broker) === undefined) {
      reply.code(503).send({ error: 'mqtt is not running' });
      return;
    }
    reply.hijack();
    wss.handleUpgrade(req.raw, req.raw.socket, upgradeHead(req.raw), (ws) => serve(ws, req.raw));
  });

  app.addHook('onClose', async () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  });
}
