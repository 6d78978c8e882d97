/**
 * Secret keys must match [-._a-zA-Z0-9]+. spark8t 1.6 writes keys with a hex escape: every byte
 * outside [A-Za-z0-9.-] becomes `_` + two lowercase hex digits (`a_b` → `a_5fb`, `a b` → `a_20b`).
 * It reads them back that way, and falls back to the older percent scheme (quote(), `_`→`__`,
 * `%`→`_`) for keys an older spark8t stored. We do exactly the same so both tools share accounts.
 */
const SAFE = /^[A-Za-z0-9.-]$/;

export function encodeKey(key: string): string {
  let out = '';
  for (const byte of Buffer.from(key, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += SAFE.test(ch) ? ch : `_${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** Python's int(s, 16) for the two characters after an escape (it tolerates sign and spaces). */
function pyHex2(s: string): number {
  const t = s.trim();
  if (!/^[+-]?[0-9a-fA-F]+$/.test(t)) throw new Error('not hex');
  const n = parseInt(t, 16);
  if (n < 0 || n > 255) throw new Error('not a byte');
  return n;
}

function decodeHex(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; ) {
    if (s[i] === '_') {
      bytes.push(pyHex2(s.slice(i + 1, i + 3)));
      i += 3;
    } else {
      const code = s.charCodeAt(i);
      if (code > 255) throw new Error('not a byte');
      bytes.push(code);
      i += 1;
    }
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
}

/** Python urllib.parse.quote with safe='/'. */
export function pyQuote(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /^[A-Za-z0-9_.~\-/]$/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Python urllib.parse.unquote (invalid escapes stay literal; bad UTF-8 becomes U+FFFD). */
export function pyUnquote(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(s[i]!, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

export function encodeKeyLegacy(key: string): string {
  return pyQuote(key).replace(/_/g, '__').replace(/%/g, '_');
}

export function decodeKeyLegacy(key: string): string {
  return pyUnquote(
    key
      .replace(/__/g, '\u00a7')
      .replace(/_/g, '%')
      .replace(/\u00a7/g, '_'),
  );
}

export function decodeKey(key: string): string {
  try {
    return decodeHex(key);
  } catch {
    return decodeKeyLegacy(key);
  }
}
