/**
 * A tiny PNG writer (Node only: `node:zlib` deflate) and two rasterisers for
 * the command line: a grid of grayscale images (diffusion samples) and a
 * scatter of 2-D points (particles). 8-bit grayscale, RGB or RGBA, no
 * interlacing, filter type 0 on every row.
 *
 * @module
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { deflateSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (the PNG/zlib polynomial) of some bytes. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A raw 8-bit image: `channels` of 1 (gray), 3 (RGB) or 4 (RGBA), row-major. */
export interface RawImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3 | 4;
  readonly data: Uint8Array;
}

/** Encode an image as PNG bytes. */
export function encodePng(img: RawImage): Buffer {
  const { width, height, channels, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new RangeError(`encodePng: bad size ${width}x${height}`);
  if (![1, 3, 4].includes(channels)) throw new RangeError(`encodePng: channels must be 1, 3 or 4, got ${channels}`);
  if (data.length !== width * height * channels) throw new Error(`encodePng: expected ${width * height * channels} bytes for ${width}x${height}x${channels}, got ${data.length}`);
  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) raw.set(data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = channels === 1 ? 0 : channels === 3 ? 2 : 6;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}

/** Write an image to a PNG file (parent folders created). */
export function savePng(path: string, img: RawImage): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, encodePng(img));
}

/** Options of {@link imageGrid}. */
export interface ImageGridOptions {
  /** Images per row (default ceil(sqrt(n))). */
  readonly columns?: number;
  /** Pixel size of one image pixel (default 4). */
  readonly scale?: number;
  /** Value range mapped to black..white (default [-1, 1]). */
  readonly range?: readonly [number, number];
  /** Gap between images in output pixels (default 2, mid-gray). */
  readonly gap?: number;
  /** Draw dark ink on white (default true, as the digits are shown). */
  readonly invert?: boolean;
}

/** Tile `n` grayscale images of `height x width` (row-major, `[n * h * w]`) into one image. */
export function imageGrid(values: ArrayLike<number>, n: number, height: number, width: number, options: ImageGridOptions = {}): RawImage {
  if (values.length !== n * height * width) throw new Error(`imageGrid: expected ${n}x${height}x${width} = ${n * height * width} values, got ${values.length}`);
  const cols = options.columns ?? Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const sc = options.scale ?? 4;
  const gap = options.gap ?? 2;
  const [lo, hi] = options.range ?? [-1, 1];
  const invert = options.invert ?? true;
  const W = cols * (width * sc + gap) + gap;
  const H = rows * (height * sc + gap) + gap;
  const data = new Uint8Array(W * H).fill(128);
  for (let k = 0; k < n; k++) {
    const ox = gap + (k % cols) * (width * sc + gap);
    const oy = gap + Math.floor(k / cols) * (height * sc + gap);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = Math.min(1, Math.max(0, (values[(k * height + y) * width + x]! - lo) / (hi - lo)));
        const g = Math.round(255 * (invert ? 1 - v : v));
        for (let dy = 0; dy < sc; dy++) data.fill(g, (oy + y * sc + dy) * W + ox + x * sc, (oy + y * sc + dy) * W + ox + (x + 1) * sc);
      }
    }
  }
  return { width: W, height: H, channels: 1, data };
}

/** Options of {@link scatterImage}. */
export interface ScatterImageOptions {
  /** Image size in pixels (default 256). */
  readonly size?: number;
  /** Box [xmin, xmax, ymin, ymax] shown (default [-3, 3, -3, 3]). */
  readonly box?: readonly [number, number, number, number];
  /** Colour index per point into a small palette (default all 0). */
  readonly groups?: ArrayLike<number>;
}

const PALETTE: readonly [number, number, number][] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
];

/** Rasterise 2-D points `[x0, y0, x1, y1, ...]` as small dots on white. */
export function scatterImage(points: ArrayLike<number>, options: ScatterImageOptions = {}): RawImage {
  const size = options.size ?? 256;
  const [x0, x1, y0, y1] = options.box ?? [-3, 3, -3, 3];
  const data = new Uint8Array(size * size * 3).fill(255);
  const n = points.length / 2;
  for (let i = 0; i < n; i++) {
    const px = Math.round(((points[2 * i]! - x0) / (x1 - x0)) * (size - 1));
    const py = Math.round(((y1 - points[2 * i + 1]!) / (y1 - y0)) * (size - 1));
    const c = PALETTE[(options.groups?.[i] ?? 0) % PALETTE.length]!;
    for (let dy = 0; dy < 2; dy++) {
      for (let dx = 0; dx < 2; dx++) {
        const X = px + dx;
        const Y = py + dy;
        if (X < 0 || Y < 0 || X >= size || Y >= size) continue;
        data.set(c, (Y * size + X) * 3);
      }
    }
  }
  return { width: size, height: size, channels: 3, data };
}
