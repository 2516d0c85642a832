/**
 * MQTT 3.1.1 / 5.0 codec: pure bytes <-> typed packets. Imports only src/wire. See docs/mqtt-codec.md.
 */
export * from './types.js';
export { MqttProtocolError } from './mqtt-error.js';
export { ReasonCode, ReasonPacket, REASON_CODES, isReasonCodeAllowed, reasonCodeName, connackReturnCodeV4, SUBACK_FAILURE_V4 } from './reason-codes.js';
export { PROPERTIES, PropertyContext, decodeProperties, sizeOfProperties, writeProperties, type Properties, type PropertyDef } from './properties.js';
export { isValidTopicName, isValidTopicFilter, parseSharedSubscription, readVbi, writeVbi, sizeOfVbi, MAX_VBI } from './data-types.js';
export { checkFixedHeader, packetSize } from './fixed-header.js';
export { decodePacket, decodeFrame, encodePacket, sizeOfPacketBody } from './packet.js';
export { PacketSplitter, MQTT_MAX_PACKET_SIZE, type PacketSink } from './packet-splitter.js';
export { PINGREQ_BYTES, PINGRESP_BYTES } from './ping.js';
