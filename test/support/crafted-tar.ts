/**
 * Tar headers written by hand, for archives no honest writer makes: any size (GNU base-256 beyond
 * what 11 octal digits hold), any type, with a valid checksum so that readers get past it. Pure.
 */
export function tarHeader(name: string, size: number, type = '0'): Buffer {
  const h = Buffer.alloc(512, 0);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  if (size < 8 ** 11) h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  else {
    let n = BigInt(size);
    for (let i = 135; i > 124; i--) {
      h[i] = Number(n & 0xffn);
      n >>= 8n;
    }
    h[124] = 0x80;
  }
  h.write('00000000000\0', 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(type, 156, 'ascii');
  h.write('ustar\u000000', 257, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/** `body` padded to whole 512-byte blocks. */
export const blocks = (body: Buffer) => Buffer.concat([body, Buffer.alloc((512 - (body.length % 512)) % 512, 0)]);

/** The end-of-archive marker: two zero blocks. */
export const END = Buffer.alloc(1024, 0);
