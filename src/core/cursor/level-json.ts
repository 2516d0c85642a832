/**
 * The cursor store's record values (see cursor-store.ts for the format) written as UTF-8 JSON without building
 * the object tree JSON.stringify needs: the store writes one of these per cursor per tick, which at a few
 * thousand acks or deliveries a second made the encoded-object garbage a visible share of the broker's
 * allocation. The bytes are exactly JSON.stringify's for the same values (a test checks it), so the format,
 * and replay, are unchanged.
 *
 * The text is assembled in a scratch buffer kept by the writer and copied out into an exact-size Buffer per
 * record: the scratch is reused, the returned Buffer never is (a log may keep the value it was given).
 */
import type { LevelSnapshot } from './cursor-state.js';

const QUOTE = 0x22;
const COMMA = 0x2c;
const MINUS = 0x2d;
const ZERO = 0x30;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;

export class LevelJsonWriter {
  private buf: Buffer;
  private n = 0;

  constructor(initialBytes = 512) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** `{"v":version,"t":"c","e":epoch,"l":[levels]}`: a checkpoint value. */
  checkpoint(version: number, epoch: number, levels: readonly LevelSnapshot[]): Buffer {
    this.n = 0;
    this.ascii('{"v":');
    this.num(version);
    this.ascii(',"t":"c","e":');
    this.num(epoch);
    this.ascii(',"l":');
    this.levels(levels);
    this.byte(CLOSE_BRACE);
    return this.take();
  }

  /** `{"v":version,"t":"d","e":epoch,"s":seq,"l":[levels]}`: a delta value. */
  delta(version: number, epoch: number, seq: number, levels: readonly LevelSnapshot[]): Buffer {
    this.n = 0;
    this.ascii('{"v":');
    this.num(version);
    this.ascii(',"t":"d","e":');
    this.num(epoch);
    this.ascii(',"s":');
    this.num(seq);
    this.ascii(',"l":');
    this.levels(levels);
    this.byte(CLOSE_BRACE);
    return this.take();
  }

  private levels(levels: readonly LevelSnapshot[]): void {
    this.byte(OPEN_BRACKET);
    for (let i = 0; i < levels.length; i++) {
      const l = levels[i];
      if (i > 0) this.byte(COMMA);
      this.byte(OPEN_BRACE);
      this.key('f');
      this.num(l.floor);
      this.byte(COMMA);
      this.key('n');
      this.num(l.next);
      this.byte(COMMA);
      this.key('r');
      this.nums(l.ranges);
      this.byte(COMMA);
      this.key('c');
      this.nums(l.counts);
      this.byte(CLOSE_BRACE);
    }
    this.byte(CLOSE_BRACKET);
  }

  /** `"k":` for a one-letter ASCII key. */
  private key(k: string): void {
    this.room(4);
    const b = this.buf;
    b[this.n++] = QUOTE;
    b[this.n++] = k.charCodeAt(0);
    b[this.n++] = QUOTE;
    b[this.n++] = COLON;
  }

  private nums(xs: readonly number[]): void {
    this.byte(OPEN_BRACKET);
    for (let i = 0; i < xs.length; i++) {
      if (i > 0) this.byte(COMMA);
      this.num(xs[i]);
    }
    this.byte(CLOSE_BRACKET);
  }

  /** A number as JSON.stringify writes it: safe integers digit by digit, anything else through String(). */
  private num(v: number): void {
    if (!Number.isSafeInteger(v)) {
      // Not produced by the cursor state (offsets and counts are safe integers); kept JSON-exact anyway.
      this.ascii(JSON.stringify(v));
      return;
    }
    this.room(17);
    const b = this.buf;
    if (v < 0) {
      b[this.n++] = MINUS;
      v = -v;
    }
    let digits = 1;
    for (let p = 10; p <= v; p *= 10) digits++;
    let at = this.n + digits;
    this.n = at;
    do {
      b[--at] = ZERO + (v % 10);
      v = Math.floor(v / 10);
    } while (v > 0);
  }

  private ascii(s: string): void {
    this.room(s.length);
    const b = this.buf;
    for (let i = 0; i < s.length; i++) b[this.n++] = s.charCodeAt(i);
  }

  private byte(c: number): void {
    this.room(1);
    this.buf[this.n++] = c;
  }

  private room(bytes: number): void {
    if (this.n + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + bytes));
    this.buf.copy(grown, 0, 0, this.n);
    this.buf = grown;
  }

  /** A copy of what was written: the caller owns it, the scratch is written over by the next record. */
  private take(): Buffer {
    const out = Buffer.allocUnsafe(this.n);
    this.buf.copy(out, 0, 0, this.n);
    return out;
  }
}
