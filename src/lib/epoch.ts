/**
 * SOURCE_DATE_EPOCH (reproducible-builds.org): the one reading of it, for the workspace. Pure.
 * Unset or empty: none (each step then dates its output by the commit time of its inputs).
 * Set: a whole number of seconds after 1970, greater than 0; anything else is refused, as the
 * specification asks, instead of each step guessing differently.
 */
import { UserError } from './errors.ts';

export function parseSourceDateEpoch(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const v = raw.trim();
  if (!/^\d+$/.test(v) || Number(v) <= 0 || !Number.isSafeInteger(Number(v))) {
    throw new UserError('E_SOURCE_DATE_EPOCH', `SOURCE_DATE_EPOCH=${raw} is not a number of seconds since 1970`);
  }
  return Number(v);
}
