/** Process entry of the spark8t executable (bundled by src/spark8t/build). */
import { main } from './main.ts';

// The name we were called by decides the tool. Compiled with bun, argv[1] is a virtual path and
// argv0 holds the link name; as a Node SEA or a script, argv[1] is the called path.
const compiledWithBun = typeof (process.versions as Record<string, string | undefined>).bun === 'string' && (process.argv[1] ?? '').startsWith('/$bunfs/');
const argv0 = process.env.SPARK8T_ARGV0 ?? (compiledWithBun ? process.argv0 : (process.argv[1] ?? 'spark8t'));
main(argv0, process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
