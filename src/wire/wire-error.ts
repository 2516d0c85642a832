/**
 * WireError: the bytes on the wire (or on disk) do not parse. Carries the field being read, the offset at
 * which it started, and how many bytes were needed versus available, so a log line can say exactly where a
 * frame went wrong. Codecs throw only this; sessions map it onto the protocol's own error reply.
 */
export class WireError extends Error {
  readonly field: string;
  readonly offset: number;
  readonly need: number;
  readonly have: number;

  constructor(field: string, offset: number, need: number, have: number, message?: string) {
    super(message ?? `wire: cannot read ${field} at offset ${offset}: need ${need} bytes, have ${have}`);
    this.name = 'WireError';
    this.field = field;
    this.offset = offset;
    this.need = need;
    this.have = have;
  }

  /** A value that parsed but is not allowed (bad magic, negative length, over a limit). */
  static invalid(field: string, offset: number, message: string): WireError {
    return new WireError(field, offset, 0, 0, `wire: invalid ${field} at offset ${offset}: ${message}`);
  }
}
