/**
 * Bounded retries with exponential backoff, for network errors and 5xx answers only (an error object
 * says whether it is retryable). The schedule is a pure function so tests can read it.
 */
export interface RetryPolicy {
  /** Total attempts, including the first (≥ 1). */
  attempts: number;
  /** Delay before the 2nd attempt; doubles each time. */
  baseDelayMs: number;
  /** Upper bound for one delay. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 16_000 };

/** Delays between attempts: attempts-1 values. */
export function backoffDelays(p: RetryPolicy): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.max(0, p.attempts - 1); i++) out.push(Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** i));
  return out;
}

export interface AttemptInfo {
  attempt: number;
  error: unknown;
  delayMs: number;
}

export class RetriesExhausted extends Error {
  readonly attempts: number;
  readonly last: unknown;
  constructor(attempts: number, last: unknown) {
    super(`gave up after ${attempts} attempts: ${last instanceof Error ? last.message : String(last)}`);
    this.name = 'RetriesExhausted';
    this.attempts = attempts;
    this.last = last;
  }
}

export async function withRetry<T>(
  op: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  isRetryable: (e: unknown) => boolean,
  onRetry: (info: AttemptInfo) => void = () => {},
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<{ value: T; attempts: number }> {
  const delays = backoffDelays(policy);
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await op(attempt), attempts: attempt };
    } catch (e) {
      if (!isRetryable(e)) throw e;
      const delayMs = delays[attempt - 1];
      if (delayMs === undefined) throw new RetriesExhausted(attempt, e);
      onRetry({ attempt, error: e, delayMs });
      await sleep(delayMs);
    }
  }
}
