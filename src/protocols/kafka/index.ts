/**
 * The Kafka protocol's public surface: `createKafkaListener` for the server's listener plugin (the protocol
 * never imports server/; the returned object fits ProtocolListener structurally).
 */
import { KafkaListener, type KafkaListenerDeps } from './listener.js';

export { KafkaListener, type KafkaListenerConfig, type KafkaListenerDeps } from './listener.js';
export { KafkaSession } from './session.js';
export { ADVERTISED_APIS } from './api-versions.js';

export function createKafkaListener(deps: KafkaListenerDeps): KafkaListener {
  return new KafkaListener(deps);
}
