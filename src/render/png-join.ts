import { constants, crc32, createDeflate, inflate } from 'node:zlib';
import { promisify } from 'node:util';

const inflateAsync = promisify(inflate);

/**
 * One PNG made of horizontal strips that Chromium encoded one by one (capture.ts says why),
 * yielded strip by strip: at no moment does Node hold more than one strip and its compressed
 * rows. Lossless, and the result is the image one capture would have given: each strip's
 * filtered rows are kept as Chromium filtered them, except a strip's first row, which was
 * filtered against nothing (it was the top of its own image) and is written unfiltered
 * instead; all rows go through one deflate stream.
 */

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The header fields every strip must share (the height is the strip's own). */
interface Header {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  /** Bytes per complete pixel (the filters' left neighbour distance). */
  bpp: number;
  /** Bytes per row without its filter byte. */
  stride: number;
  /** IHDR bytes 8..12 (bit depth, colour type, compression, filter, interlace), compared across strips. */
  rest: Buffer;
}

interface Parsed {
  header: Header;
  /** Ancillary chunks between IHDR and the first IDAT (colour information), as whole chunks. */
  ancillary: Buffer[];
  idat: Buffer[];
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

export class PngJoinError extends Error {}

function parse(png: Buffer): Parsed {
  if (png.length < SIGNATURE.length || !png.subarray(0, 8).equals(SIGNATURE)) throw new PngJoinError('not a PNG');
  let header: Header | null = null;
  const ancillary: Buffer[] = [];
  const idat: Buffer[] = [];
  for (let off = 8; off + 12 <= png.length;) {
    const len = png.readUInt32BE(off);
    const type = png.toString('latin1', off + 4, off + 8);
    const data = png.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      const bitDepth = data[8]!;
      const colorType = data[9]!;
      const channels = CHANNELS[colorType];
      // Chromium writes 8-bit RGB or RGBA, never interlaced; anything else is refused, not guessed at.
      if (
        channels === undefined ||
        (bitDepth !== 8 && bitDepth !== 16) ||
        data[10] !== 0 ||
        data[11] !== 0 ||
        data[12] !== 0
      ) {
        throw new PngJoinError(
          `unsupported PNG layout (bit depth ${bitDepth}, colour type ${colorType}, interlace ${data[12]})`,
        );
      }
      const bpp = (channels * bitDepth) / 8;
      const width = data.readUInt32BE(0);
      header = {
        width,
        height: data.readUInt32BE(4),
        bitDepth,
        colorType,
        bpp,
        stride: width * bpp,
        rest: Buffer.from(data.subarray(8, 13)),
      };
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    } else if (idat.length === 0 && header) {
      ancillary.push(png.subarray(off, off + 12 + len));
    }
    off += 12 + len;
  }
  if (!header || idat.length === 0) throw new PngJoinError('PNG without IHDR or IDAT');
  return { header, ancillary, idat };
}

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(data, crc32(type)), 8 + data.length);
  return out;
}

/**
 * Rewrites the first row of `rows` (filtered scanlines, one filter byte each) as unfiltered:
 * it was filtered against an all-zero row above it, which the joined image does not have.
 * With a zero row above, Up adds nothing, Paeth always predicts the left neighbour (as Sub
 * does) and Average half of it.
 */
function unfilterFirstRow(rows: Buffer, h: Header): void {
  const filter = rows[0];
  const line = rows.subarray(1, 1 + h.stride);
  for (let i = 0; i < line.length; i++) {
    const left = i >= h.bpp ? line[i - h.bpp]! : 0;
    const add = filter === 1 || filter === 4 ? left : filter === 3 ? left >> 1 : 0;
    line[i] = (line[i]! + add) & 0xff;
  }
  rows[0] = 0;
}

/**
 * Joins the strips (top to bottom) into one PNG of `height` rows. Every strip must have the
 * width, colour type and bit depth of the first; the rows must add up to `height`, or the
 * stream fails at the end (the client's response is then cut off, never silently short).
 */
export async function* joinPngStrips(strips: AsyncIterable<Buffer>, height: number): AsyncGenerator<Buffer> {
  let first: Header | null = null;
  let rowsSeen = 0;
  const deflate = createDeflate();
  const pending: Buffer[] = [];
  deflate.on('data', (d: Buffer) => pending.push(d));
  const flushed = (kind: number): Promise<void> => new Promise((resolve) => deflate.flush(kind, () => resolve()));
  const take = (): Buffer => {
    const out = Buffer.concat(pending);
    pending.length = 0;
    return out;
  };
  try {
    for await (const png of strips) {
      const { header, ancillary, idat } = parse(png);
      if (!first) {
        first = header;
        const ihdr = Buffer.alloc(13);
        ihdr.writeUInt32BE(header.width, 0);
        ihdr.writeUInt32BE(height, 4);
        header.rest.copy(ihdr, 8);
        yield Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), ...ancillary]);
      } else if (header.width !== first.width || !header.rest.equals(first.rest)) {
        throw new PngJoinError('strips differ in width or pixel layout');
      }
      const rows = await inflateAsync(idat.length === 1 ? idat[0]! : Buffer.concat(idat));
      if (rows.length !== header.height * (header.stride + 1))
        throw new PngJoinError('strip rows do not match its header');
      if (rowsSeen > 0) unfilterFirstRow(rows, header);
      rowsSeen += header.height;
      if (rowsSeen > height) throw new PngJoinError(`strips add up to more than ${height} rows`);
      deflate.write(rows);
      await flushed(constants.Z_SYNC_FLUSH);
      yield chunk('IDAT', take());
    }
    if (rowsSeen !== height) throw new PngJoinError(`strips add up to ${rowsSeen} rows, not ${height}`);
    await new Promise<void>((resolve, reject) => {
      deflate.once('end', resolve);
      deflate.once('error', reject);
      deflate.end();
    });
    yield Buffer.concat([chunk('IDAT', take()), chunk('IEND', Buffer.alloc(0))]);
  } finally {
    deflate.destroy();
  }
}
