/**
 * Standard output of the spark8t tools. A reader that goes away early (`| head`, `| grep -q`) is
 * not an error: the rest of the output is dropped and the command keeps its exit status, instead of
 * dying on EPIPE with a stack trace.
 */
let closed = false;
let watching = false;

function isEpipe(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';
}

export function writeOut(text: string): void {
  if (closed) return;
  if (!watching) {
    watching = true;
    // Asynchronous failures of the stream (Node) arrive here; Bun throws from write() itself.
    process.stdout.on('error', (e) => {
      if (isEpipe(e)) closed = true;
      else throw e;
    });
  }
  try {
    process.stdout.write(text);
  } catch (e) {
    if (!isEpipe(e)) throw e;
    closed = true;
  }
}
