/**
 * Reads an encoded image's displayed size from its header, without decoding:
 * JPEG (SOFn, with the EXIF orientation applied: 5-8 swap the sides) and PNG
 * (IHDR). Used by the browser worker to check that the size the server stored
 * (EXIF-oriented, via sharp) is the size the browser will decode to.
 */

export interface HeaderSize {
  width: number;
  height: number;
}

const be16 = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!;
const be32 = (b: Uint8Array, i: number) =>
  ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;

/** The EXIF orientation (1..8) in an APP1 segment body starting at `start`, or 1. */
function exifOrientation(b: Uint8Array, start: number, end: number): number {
  // "Exif\0\0" then a TIFF header.
  if (
    end - start < 14 ||
    b[start] !== 0x45 ||
    b[start + 1] !== 0x78 ||
    b[start + 2] !== 0x69 ||
    b[start + 3] !== 0x66
  )
    return 1;
  const tiff = start + 6;
  const little = b[tiff] === 0x49 && b[tiff + 1] === 0x49;
  if (!little && !(b[tiff] === 0x4d && b[tiff + 1] === 0x4d)) return 1;
  const u16 = (i: number) => (little ? b[i]! | (b[i + 1]! << 8) : be16(b, i));
  const u32 = (i: number) =>
    little ? (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0 : be32(b, i);
  const ifd = tiff + u32(tiff + 4);
  if (ifd + 2 > end) return 1;
  const count = u16(ifd);
  for (let k = 0; k < count; k++) {
    const entry = ifd + 2 + k * 12;
    if (entry + 12 > end) return 1;
    if (u16(entry) === 0x0112) {
      const value = u16(entry + 8);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

function jpegSize(b: Uint8Array): HeaderSize | null {
  let orientation = 1;
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return null;
    const marker = b[i + 1]!;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // end / start of scan before any SOF
    const length = be16(b, i + 2);
    if (length < 2) return null;
    const end = Math.min(b.length, i + 2 + length);
    if (marker === 0xe1) orientation = Math.max(orientation, exifOrientation(b, i + 4, end));
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (i + 9 > b.length) return null;
      const height = be16(b, i + 5);
      const width = be16(b, i + 7);
      if (width === 0 || height === 0) return null;
      return orientation >= 5 ? { width: height, height: width } : { width, height };
    }
    i += 2 + length;
  }
  return null;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The displayed (EXIF-oriented) size of a JPEG or PNG, or null when unknown (other formats, truncated). */
export function readImageSize(bytes: ArrayBuffer | Uint8Array): HeaderSize | null {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) return jpegSize(b);
  if (b.length >= 24 && PNG_SIGNATURE.every((v, k) => b[k] === v)) {
    const width = be32(b, 16);
    const height = be32(b, 20);
    return width > 0 && height > 0 ? { width, height } : null;
  }
  return null;
}
