/**
 * fitToVersion: a response value reduced to the fields its version has. Handlers build one response shape for
 * every version they serve (a v9 Produce answer carries logStartOffset, a v3 one must not); the generic
 * encoder refuses a non-default value in a field the version lacks unless the field is ignorable (Kafka's
 * rule for senders), so the broker drops those fields here — a broker answering an older client simply does
 * not say what that version cannot carry. Shallow copies only where a field is removed; Buffers are not touched.
 */
import { inRange, type FieldSpec, type MessageSchema } from './message-schema.js';

export function fitToVersion<T>(schema: MessageSchema, version: number, value: T): T {
  return fitStruct(schema.fields, version, value) as T;
}

function fitStruct(fields: readonly FieldSpec[], version: number, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  const src = value as { [k: string]: unknown };
  let out: { [k: string]: unknown } | null = null;
  for (const f of fields) {
    if (!Object.hasOwn(src, f.name)) continue;
    const v = src[f.name];
    if (!inRange(f.versions, version)) {
      if (v !== undefined) {
        out ??= { ...src };
        delete out[f.name];
      }
      continue;
    }
    if (f.fields === undefined || v === null || v === undefined) continue;
    let fitted: unknown;
    if (f.type === 'array' && Array.isArray(v)) {
      let changed = false;
      const arr = v.map((item) => {
        const x = fitStruct(f.fields!, version, item);
        if (x !== item) changed = true;
        return x;
      });
      fitted = changed ? arr : v;
    } else {
      fitted = fitStruct(f.fields, version, v);
    }
    if (fitted !== v) {
      out ??= { ...src };
      out[f.name] = fitted;
    }
  }
  return out ?? value;
}
