// The shape of one image, [C,H,W], and the byte → [0,1] conversion shared by the dataset readers
// (the same value torchvision's ToTensor gives: float32(byte) / 255).

export interface ImageShape {
  readonly c: number;
  readonly h: number;
  readonly w: number;
}

export function imageSize(s: ImageShape): number {
  return s.c * s.h * s.w;
}

export function shapeText(s: ImageShape): string {
  return `[${s.c},${s.h},${s.w}]`;
}

/** BYTE_TO_UNIT[b] = b / 255 as float32. */
export const BYTE_TO_UNIT: Float32Array = Float32Array.from({ length: 256 }, (_, b) => b / 255);

/** bytes [n] → out[offset … offset+n) in [0,1]; no allocation. */
export function bytesToUnit(bytes: Uint8Array, out: Float32Array, offset = 0): void {
  const lut = BYTE_TO_UNIT;
  for (let i = 0; i < bytes.length; i++) out[offset + i] = lut[bytes[i]!]!;
}
