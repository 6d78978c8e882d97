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

/** Blank and `#` lines are not properties. */
export function isPropertyLine(line: string): boolean {
  const t = line.trim();
  return t.length > 0 && !t.startsWith('#');
}

/** Key ends at the first `=` or space; value is what follows the first `=`, trimmed. */
export function parsePropertyLine(line: string, where = 'property'): [string, string] {
  const t = line.trim();
  const key = t.split(/[= ]/).find((p) => p.length > 0) ?? '';
  const eq = line.indexOf('=');
  if (!key || eq < 0) {
    throw new UserError('E_PROPERTY', `${where}: "${t}" is not a key=value property`);
  }
  return [key.trim(), line.slice(eq + 1).trim()];
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

/** `--conf k=v` arguments: the value may contain `=`; `$VAR`s are expanded. */
export function parseConfArgs(args: readonly string[] | undefined, env: NodeJS.ProcessEnv = process.env): Props {
  const out: Props = new Map();
  for (const a of args ?? []) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new UserError('E_CONF', `--conf "${a}" is not key=value`);
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

/** Serialise as a Spark properties file. */
export function formatProperties(p: Props): string {
  let s = '';
  for (const [k, v] of p) s += `${k}=${v.trim()}\n`;
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
