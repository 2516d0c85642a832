/**
 * The AMQP 0-9-1 codec: pure bytes <-> typed frames, methods, content headers and field tables. Imports only
 * src/wire. See docs/amqp-codec.md.
 */
export * from './methods.js';
export * from './data-types.js';
export * from './field-table.js';
export * from './frame.js';
export * from './method-codec.js';
export * from './content-header.js';
