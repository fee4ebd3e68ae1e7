import { isDense, type Vector } from './vector.js';

/** Bytes for storage: dense as raw float32; sparse behind a 'SPV1' header with its size and entries. */
export function vectorToBytes(v: Vector): Buffer {
  if (isDense(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  const out = Buffer.alloc(12 + v.idx.length * 8);
  out.write('SPV1', 0, 'latin1');
  out.writeUInt32LE(v.dim, 4);
  out.writeUInt32LE(v.idx.length, 8);
  Buffer.from(v.idx.buffer, v.idx.byteOffset, v.idx.byteLength).copy(out, 12);
  Buffer.from(v.val.buffer, v.val.byteOffset, v.val.byteLength).copy(out, 12 + v.idx.length * 4);
  return out;
}

export function vectorFromBytes(bytes: Buffer): Vector {
  const copy = (offset: number, length: number) =>
    bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + length);
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'SPV1') {
    const n = bytes.readUInt32LE(8);
    return {
      dim: bytes.readUInt32LE(4),
      idx: new Uint32Array(copy(12, n * 4)),
      val: new Float32Array(copy(12 + n * 4, n * 4)),
    };
  }
  return new Float32Array(copy(0, bytes.length));
}
