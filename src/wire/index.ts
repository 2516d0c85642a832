export { BufferReader } from './buffer-reader.js';
export { BufferWriter } from './buffer-writer.js';
export { WireError } from './wire-error.js';
export { crc32c } from './crc32c.js';
export { sizeOfUnsignedVarint, sizeOfVarint, sizeOfVarlong, zigzagEncode64, zigzagDecode64 } from './varint.js';
export { ByteChunks } from './byte-chunks.js';
export { ChunksReader } from './chunks-reader.js';
