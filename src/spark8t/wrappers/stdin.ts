/**
 * pyspark given a script on stdin. Spark's pyspark defines `spark` and `sc` in the shell's
 * start-up file (PYTHONSTARTUP=pyspark/shell.py), which Python runs only in interactive mode:
 * with stdin a pipe or a file, Python reads it as a script and the start-up file is skipped
 * (`NameError: name 'spark' is not defined`). `python -i` makes Python interactive whatever stdin
 * is: the start-up file runs, then the lines on stdin, one at a time as typed in the shell
 * (prompts go to stderr, results to stdout). spark-shell needs nothing: the Scala REPL reads stdin
 * the same way whether or not it is a terminal.
 */
import { basename } from 'node:path';
import type { Props } from '../conf/properties.ts';

/** The Python that runs the pyspark shell, as Spark's launcher picks it. */
export function driverPython(props: Props, env: NodeJS.ProcessEnv): string {
  return props.get('spark.pyspark.driver.python') || props.get('spark.pyspark.python') || env.PYSPARK_DRIVER_PYTHON || env.PYSPARK_PYTHON || 'python3';
}

/**
 * Environment for pyspark when stdin is not a terminal: `-i` added to PYSPARK_DRIVER_PYTHON_OPTS
 * (kept otherwise). Nothing when stdin is a terminal, when the driver is not CPython's `python`
 * (IPython, Jupyter: the user's choice stands), or when the options already hold `-i`.
 */
export function pysparkStdinEnv(stdinIsTerminal: boolean, props: Props, env: NodeJS.ProcessEnv): Record<string, string> {
  if (stdinIsTerminal) return {};
  if (!/^python[0-9.]*$/.test(basename(driverPython(props, env)))) return {};
  const opts = (env.PYSPARK_DRIVER_PYTHON_OPTS ?? '').trim();
  if (opts.split(/\s+/).includes('-i')) return {};
  return { PYSPARK_DRIVER_PYTHON_OPTS: opts ? `-i ${opts}` : '-i' };
}
