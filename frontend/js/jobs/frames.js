// Decoding the wire (DESIGN §5): text frames are JSON; binary frames are a 4-byte little-endian header length N,
// N bytes of JSON header, then raw little-endian float32 / float16 / uint8 values.

function halfToFloat(h) {
  const s = (h & 0x8000) ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x03ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

const HALF = new Float32Array(65536);
for (let i = 0; i < 65536; i++) HALF[i] = halfToFloat(i);

/** Values of a binary frame's payload as a Float32Array (uint8 stays 0..255 unless the header gives a range). */
export function decodeValues(buffer, offset, dtype, header = {}) {
  const bytes = buffer.slice(offset);
  if (dtype === "float32") return new Float32Array(bytes);
  if (dtype === "float16") {
    const h = new Uint16Array(bytes);
    const out = new Float32Array(h.length);
    for (let i = 0; i < h.length; i++) out[i] = HALF[h[i]];
    return out;
  }
  if (dtype === "uint8") {
    const u = new Uint8Array(bytes);
    const out = new Float32Array(u.length);
    // quantised values: value = offset + u * scale (probabilities use scale 1/255), or a [min, max] range
    const lo = header.min ?? header.lo ?? header.offset ?? 0;
    const hi = header.max ?? header.hi ?? null;
    const scale = header.scale ?? (hi != null ? (hi - lo) / 255 : 1);
    for (let i = 0; i < u.length; i++) out[i] = lo + u[i] * scale;
    return out;
  }
  throw new Error(`unknown dtype ${dtype}`);
}

/** Parse one binary frame into {header, values}. */
export function decodeBinary(buffer) {
  const view = new DataView(buffer);
  const n = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, n)));
  const values = decodeValues(buffer, 4 + n, header.dtype, header);
  return { header, values };
}
