/**
 * Secret masking: every log line and command echo goes through `mask`.
 * Secrets are registered explicitly (tokens, passwords, config values of secret-looking keys) and
 * taken from the environment (variables whose names look secret). Their URL-encoded and base64
 * forms are masked too.
 */
const registered = new Set<string>();
const SECRET_NAME = /(TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIAL|ACCESS_KEY|PRIVATE_KEY|API_KEY|AUTH)/i;
/** Property names whose values are secrets (S3 keys, passwords, tokens). */
export const SECRET_PROPERTY = /(secret|password|passwd|token|access\.key|accesskey|credential|private\.key|session\.key)/i;

export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < 4) return;
  registered.add(value);
  registered.add(encodeURIComponent(value));
  registered.add(Buffer.from(value).toString('base64'));
}

function envSecrets(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (v && v.length >= 4 && SECRET_NAME.test(k)) out.push(v, encodeURIComponent(v));
  }
  return out;
}

export function mask(text: string, env: NodeJS.ProcessEnv = process.env): string {
  let out = text;
  const all = [...registered, ...envSecrets(env)].sort((a, b) => b.length - a.length);
  for (const s of all) {
    if (s && out.includes(s)) out = out.split(s).join('***');
  }
  // Bearer tokens and basic auth in echoed headers or URLs.
  out = out.replace(/(Bearer\s+)[A-Za-z0-9\-._~+/]+=*/g, '$1***');
  out = out.replace(/(\/\/[^/\s:@]+:)[^@\s/]+@/g, '$1***@');
  return out;
}

/** For tests. */
export function clearSecrets(): void {
  registered.clear();
}
