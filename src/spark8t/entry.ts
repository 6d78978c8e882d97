/** Process entry of the spark8t executable (bundled by src/spark8t/build). */
import { main } from './main.ts';

// In a single executable application argv[1] repeats argv[0]; under node it is the script.
const sea = (() => {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return typeof process.versions.node === 'string' && Boolean((process as unknown as { isSea?: () => boolean }).isSea?.());
  } catch {
    return false;
  }
})();
const argv0 = process.env.SPARK8T_ARGV0 ?? (sea ? process.argv0 : process.argv[1] ?? 'spark8t');
const args = process.argv.slice(2);
main(argv0, args).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
