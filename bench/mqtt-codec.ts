/**
 * MQTT codec benchmark: PUBLISH QoS 0 and QoS 1 with 128 B payloads (topic `sensors/room-12/temperature`),
 * v3.1.1 and v5, through PacketSplitter + decodePacket from 64 KiB chunks, and encodePacket, against baselines
 * measured in the same run: for decoding, a plain framing scan of the same bytes (read the first byte and the
 * Remaining Length, skip the body — the least any MQTT reader does); for encoding, `Buffer.allocUnsafe` of the
 * packet size plus one copy of the payload.
 *
 * When mqtt-packet (the codec of mqtt.js and aedes; installed with the mqtt dev dependency) is present, its
 * parser and generator run on the same packets as a peer row, so the ratio column also reads "× mqtt-packet".
 *
 * Method: rounds alternate ours and the baseline; the best round of each is reported.
 * Usage: node dist/bench/run.js mqtt-codec [--quick]
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { decodePacket, encodePacket, PacketSplitter, type MqttVersion, type PublishPacket } from '../src/protocols/mqtt/codec/index.js';

const CHUNK = 64 * 1024;

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

function row(name: string, seconds: number, msgs: number, bytes: number, baseSeconds: number): string {
  return `| ${name.padEnd(40)} | ${(msgs / seconds / 1e6).toFixed(2).padStart(8)} M/s | ${(bytes / seconds / 1e6).toFixed(0).padStart(6)} MB/s | ${(baseSeconds / seconds).toFixed(2).padStart(5)}x |`;
}

interface Peer {
  parser(opts: object): { on(ev: 'packet', cb: () => void): void; parse(b: Buffer): number };
  generate(packet: object, opts: object): Buffer;
}

async function loadPeer(): Promise<Peer | undefined> {
  try {
    const m = (await import('mqtt-packet')) as unknown as { default: Peer };
    return m.default;
  } catch {
    return undefined;
  }
}

export async function run(args: string[] = []): Promise<void> {
  const peer = await loadPeer();
  const quick = args.includes('--quick');
  const n = quick ? 100_000 : 500_000;
  const rounds = quick ? 3 : 7;
  let sink = 0;
  const summary: string[] = [];
  console.log(`# mqtt-codec bench — Node ${process.version}, ${os.cpus()[0]?.model ?? '?'}`);
  console.log(`# ${n} PUBLISH packets, 128 B payload, ${CHUNK / 1024} KiB chunks; best of ${rounds} rounds; ratio = baseline time / ours`);
  console.log('');
  console.log(peer === undefined ? '# mqtt-packet not installed: no peer rows' : '# peer: mqtt-packet (mqtt.js / aedes codec), same packets, same run');
  console.log(`| ${'case'.padEnd(40)} | ${'msgs'.padStart(12)} | ${'bytes'.padStart(11)} | ratio |`);
  console.log(`|${'-'.repeat(42)}|${'-'.repeat(14)}|${'-'.repeat(13)}|-------|`);

  for (const version of [4, 5] as MqttVersion[]) {
    for (const qos of [0, 1] as const) {
      const p: PublishPacket = {
        type: 'publish', dup: false, qos, retain: false, topic: 'sensors/room-12/temperature', payload: Buffer.alloc(128, 0x61),
        ...(qos > 0 ? { packetId: 42 } : {}),
      };
      const frame = encodePacket(p, version);
      const stream = Buffer.alloc(frame.length * n);
      for (let i = 0; i < n; i++) frame.copy(stream, i * frame.length);
      const parts: Buffer[] = [];
      for (let i = 0; i < stream.length; i += CHUNK) parts.push(stream.subarray(i, i + CHUNK));

      const scan = (): void => {
        // Framing only: first byte, Remaining Length, skip; carries partial headers across chunks like a reader must.
        let count = 0;
        let carry = 0; // bytes of the current packet still to skip in the next chunk
        let hdr: number[] = [];
        for (const c of parts) {
          let i = carry;
          carry = 0;
          while (i < c.length) {
            hdr.push(c[i++]);
            if (hdr.length === 1) continue;
            if (hdr[hdr.length - 1] & 0x80) continue;
            let rl = 0;
            let mul = 1;
            for (let k = 1; k < hdr.length; k++) {
              rl += (hdr[k] & 0x7f) * mul;
              mul *= 128;
            }
            hdr = [];
            i += rl;
            count++;
          }
          if (i > c.length) carry = i - c.length;
        }
        sink += count;
      };
      const decode = (): void => {
        let count = 0;
        const s = new PacketSplitter({
          onPacket(first, body) {
            const d = decodePacket(first, body, version) as PublishPacket;
            count += d.payload.length;
          },
        });
        for (const c of parts) s.push(c);
        if (count !== n * 128) throw new Error(`decoded ${count / 128} of ${n}`);
        sink += count;
      };
      const allocCopy = (): void => {
        for (let i = 0; i < n; i++) {
          const b = Buffer.allocUnsafe(frame.length);
          p.payload.copy(b, frame.length - 128);
          sink += b[0];
        }
      };
      const encode = (): void => {
        for (let i = 0; i < n; i++) sink += encodePacket(p, version)[0];
      };
      const peerPacket = { cmd: 'publish', topic: p.topic, payload: p.payload, qos, retain: false, dup: false, ...(qos > 0 ? { messageId: 42 } : {}) };
      const peerDecode = (): void => {
        if (peer === undefined) return;
        let count = 0;
        const parser = peer.parser({ protocolVersion: version });
        parser.on('packet', () => count++);
        for (const c of parts) parser.parse(c);
        if (count !== n) throw new Error(`mqtt-packet parsed ${count} of ${n}`);
      };
      const peerEncode = (): void => {
        if (peer === undefined) return;
        for (let i = 0; i < n; i++) sink += peer.generate(peerPacket, { protocolVersion: version })[0];
      };
      scan();
      decode();
      allocCopy();
      encode();
      peerDecode();
      peerEncode();
      let tScan = Infinity;
      let tDec = Infinity;
      let tAlloc = Infinity;
      let tEnc = Infinity;
      let tPeerDec = Infinity;
      let tPeerEnc = Infinity;
      for (let r = 0; r < rounds; r++) {
        tScan = Math.min(tScan, time(scan));
        tDec = Math.min(tDec, time(decode));
        tAlloc = Math.min(tAlloc, time(allocCopy));
        tEnc = Math.min(tEnc, time(encode));
        if (peer !== undefined) {
          tPeerDec = Math.min(tPeerDec, time(peerDecode));
          tPeerEnc = Math.min(tPeerEnc, time(peerEncode));
        }
      }
      const tag = `v${version} QoS${qos} (${frame.length} B)`;
      console.log(row(`${tag} baseline: framing scan`, tScan, n, stream.length, tScan));
      console.log(row(`${tag} splitter + decodePacket`, tDec, n, stream.length, tScan));
      console.log(row(`${tag} baseline: allocUnsafe + copy`, tAlloc, n, stream.length, tAlloc));
      console.log(row(`${tag} encodePacket`, tEnc, n, stream.length, tAlloc));
      if (peer !== undefined) {
        console.log(row(`${tag} peer: mqtt-packet parser`, tPeerDec, n, stream.length, tPeerDec));
        summary.push(`${tag}: ours ÷ mqtt-packet  decode ${(tPeerDec / tDec).toFixed(2)}x, encode ${(tPeerEnc / tEnc).toFixed(2)}x`);
      }
    }
  }
  console.log('');
  for (const line of summary) console.log(line);
  if (sink === -1) console.log(sink);
}
