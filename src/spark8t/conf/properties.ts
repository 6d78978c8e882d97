/**
 * Spark properties: parsing files and --conf arguments, $VAR expansion, and merging levels.
 * Pure functions; the file read is the only I/O.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../../lib/errors.ts';

export type Props = Map<string, string>;

/** os.path.expandvars: `$name` and `${name}`; unknown variables are left as written. */
export function expandVars(s: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!s.includes('$')) return s;
  return s.replace(/\$(\w+|\{[^}]*\})/g, (whole, name: string) => {
    const key = name.startsWith('{') ? name.slice(1, -1) : name;
    const v = env[key];
    return v === undefined ? whole : v;
  });
}

/**
 * Blank and `#` lines are not properties; nor is a `!` line without `=` (a Java comment; the
 * reference reads `!k=v` as the key `!k`, and fails on the others).
 */
export function isPropertyLine(line: string): boolean {
  const t = line.trim();
  return t.length > 0 && !t.startsWith('#') && !(t.startsWith('!') && !t.includes('='));
}

/** Java's key terminators (java.util.Properties.load) and the whitespace around its separator. */
const JAVA_KEY_END = /[ \t\f:=]/;

/**
 * One property line. With an `=`, the reference's rule: the key ends at the first `=` or space and
 * the value is what follows the first `=`, trimmed. Without one (the reference fails there), Spark's
 * own java.util.Properties forms: `key value`, `key:value`, `key : value`, or a bare `key` (empty
 * value). Backslashes are kept as written in both (the reference does not read escapes). A line
 * with no key is refused; the error names the place, never the line, which may hold a secret.
 */
export function parsePropertyLine(line: string, where = 'property'): [string, string] {
  const t = line.trim();
  const noKey = () => new UserError('E_PROPERTY', `${where}: no key before the "${t[0]}"`, { hint: 'a property line is key=value, key value or key:value' });
  if (t.includes('=')) {
    if (t.startsWith('=')) throw noKey();
    const key = t.split(/[= ]/)[0]!.trim();
    return [key, t.slice(t.indexOf('=') + 1).trim()];
  }
  const end = t.search(JAVA_KEY_END);
  if (end === 0) throw noKey();
  if (end < 0) return [t, ''];
  const rest = t
    .slice(end)
    .replace(/^[ \t\f]*/, '')
    .replace(/^:/, '');
  return [t.slice(0, end), rest.trim()];
}

export function parseProperties(text: string, env: NodeJS.ProcessEnv = process.env, where = 'properties'): Props {
  const out: Props = new Map();
  text.split(/\r?\n/).forEach((line, i) => {
    if (!isPropertyLine(line)) return;
    const [k, v] = parsePropertyLine(line, `${where}:${i + 1}`);
    out.set(k, expandVars(v, env));
  });
  return out;
}

export function readProperties(file: string, env: NodeJS.ProcessEnv = process.env): Props {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError('E_PROPERTIES_FILE', `cannot read properties file ${file}${code ? ` (${code})` : ''}`);
  }
  return parseProperties(text, env, file);
}

/**
 * `--conf k=v` arguments: the value may contain `=`; `$VAR`s are expanded. Without `=` it is a usage
 * error, as in Spark's own spark-submit; the error names the key (up to the first space or `:`), not
 * what follows it.
 */
export function parseConfArgs(args: readonly string[] | undefined, env: NodeJS.ProcessEnv = process.env): Props {
  const out: Props = new Map();
  for (const a of args ?? []) {
    const eq = a.indexOf('=');
    if (eq === 0) throw new UserError('E_CONF', '--conf: no key before the "="');
    if (eq < 0) {
      const key = a.trim().split(/[\s:]/)[0] ?? '';
      throw new UserError('E_CONF', `--conf ${key ? `${key}: ` : ''}no "=" between the key and its value`);
    }
    out.set(a.slice(0, eq).trim(), expandVars(a.slice(eq + 1), env));
  }
  return out;
}

export const JAVA_OPTION_KEYS = new Set([
  'spark.driver.defaultJavaOptions',
  'spark.driver.extraJavaOptions',
  'spark.executor.defaultJavaOptions',
  'spark.executor.extraJavaOptions',
]);

/**
 * Split a JVM options string the way a shell would (quotes group, backslash escapes), keeping
 * the quotes in each token so the text Spark receives is unchanged.
 */
export function splitJavaOptions(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let started = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quote) {
      cur += ch;
      if (ch === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      cur += ch;
      started = true;
    } else if (ch === '\\' && i + 1 < s.length) {
      cur += ch + s[++i];
      started = true;
    } else if (/\s/.test(ch)) {
      if (started) out.push(cur);
      cur = '';
      started = false;
    } else {
      cur += ch;
      started = true;
    }
  }
  if (started) out.push(cur);
  return out;
}

/** The identity of an option for merging: `-Dkey` for -Dkey=value, else the whole token. */
function optionId(token: string): string {
  const unq = token.replace(/^(["'])(.*)\1$/, '$2');
  const m = /^-D([^=]+)(=|$)/.exec(unq);
  return m ? `-D${m[1]}` : token;
}

/**
 * Merge JVM options strings, lowest priority first: a -Dk=v of a higher level replaces the same
 * -Dk of a lower one in place; every other option (-XX:+UseG1GC, -verbose:gc, quoted values) is
 * kept, once.
 */
export function mergeJavaOptions(values: readonly string[]): string {
  const order: string[] = [];
  const byId = new Map<string, string>();
  for (const v of values) {
    for (const tok of splitJavaOptions(v)) {
      const id = optionId(tok);
      if (!byId.has(id)) order.push(id);
      byId.set(id, tok);
    }
  }
  return order.map((id) => byId.get(id)!).join(' ');
}

/** Merge levels, lowest priority first. Plain keys: last wins. *JavaOptions: merged option by option. */
export function mergeLevels(levels: readonly Props[]): Props {
  const out: Props = new Map();
  const javaOpts = new Map<string, string[]>();
  for (const level of levels) {
    for (const [k, v] of level) {
      if (JAVA_OPTION_KEYS.has(k)) {
        if (!javaOpts.has(k)) javaOpts.set(k, []);
        javaOpts.get(k)!.push(v);
        out.set(k, '');
      } else out.set(k, v);
    }
  }
  for (const [k, vs] of javaOpts) out.set(k, mergeJavaOptions(vs));
  return out;
}

/**
 * One key or value escaped for java.util.Properties.load (ASCII output): `\\`, `\t \n \r \f`, and
 * everything outside printable ASCII as `\\uXXXX` (UTF-16 code units, as Java reads them back). A
 * key also escapes what would end it or make its line a comment (`= : # !`, spaces); a value only a
 * leading space (after the separator, `=`, `:`, `#` and `!` are text; Properties.store escapes them
 * anyway, we keep values readable: `-Da=b` stays as written).
 */
export function javaEscape(s: string, isKey: boolean): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const code = s.charCodeAt(i);
    if (ch === '\\') out += '\\\\';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\f') out += '\\f';
    else if (ch === ' ') out += isKey || i === 0 ? '\\ ' : ' ';
    else if (isKey && '=:#!'.includes(ch)) out += `\\${ch}`;
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

/**
 * Serialise as the properties file Spark reads (java.util.Properties.load): every key and value
 * escaped, so that each arrives exactly as held here, backslashes, newlines and unicode included,
 * and no value can end a line early or start another property. (Spark trims values itself.)
 */
export function formatProperties(p: Props): string {
  let s = '';
  for (const [k, v] of p) s += `${javaEscape(k, true)}=${javaEscape(v, false)}\n`;
  return s;
}

/** remove-config semantics: KEY removes the key; KEY=VALUE only when the stored value matches. */
export function removeKeys(p: Props, keysOrPairs: readonly string[]): Props {
  const out = new Map(p);
  for (const kp of keysOrPairs) {
    const eq = kp.indexOf('=');
    const key = eq < 0 ? kp : kp.slice(0, eq);
    const value = eq < 0 ? undefined : kp.slice(eq + 1);
    if (out.has(key) && (!value || out.get(key) === value)) out.delete(key);
  }
  return out;
}
