/**
 * Watch every process's command line while FN runs (sampled from /proc every INTERVAL ms): the
 * command lines holding any of NEEDLES (a secret that must never be on a command line), and how many
 * samples matched SEEN (proof that the sampler did see the tool run, so an empty `leaks` means something).
 */
import { readdirSync, readFileSync } from 'node:fs';

export async function watchCmdlines<T>(
  needles: string[],
  seen: RegExp,
  fn: () => Promise<T>,
  intervalMs = 10,
): Promise<{ value: T; leaks: string[]; seen: number }> {
  const leaks: string[] = [];
  let seenCount = 0;
  let stop = false;
  const sampler = (async () => {
    while (!stop) {
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        let cmd = '';
        try {
          cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
        } catch {
          continue;
        }
        if (seen.test(cmd)) seenCount++;
        if (needles.some((n) => cmd.includes(n))) leaks.push(cmd);
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  try {
    return { value: await fn(), leaks, seen: seenCount };
  } finally {
    stop = true;
    await sampler;
  }
}
