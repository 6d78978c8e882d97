import { describe, expect, it } from 'vitest';
import { pysparkStdinEnv } from '../../src/spark8t/wrappers/stdin.ts';

describe('pyspark with stdin not a terminal', () => {
  it('makes CPython interactive (-i), keeping the options the user set', () => {
    expect(pysparkStdinEnv(false, new Map(), {})).toEqual({ PYSPARK_DRIVER_PYTHON_OPTS: '-i' });
    expect(pysparkStdinEnv(false, new Map(), { PYSPARK_DRIVER_PYTHON: '/usr/bin/python3.11', PYSPARK_DRIVER_PYTHON_OPTS: ' -X dev ' })).toEqual({
      PYSPARK_DRIVER_PYTHON_OPTS: '-i -X dev',
    });
    expect(pysparkStdinEnv(false, new Map([['spark.pyspark.driver.python', 'python']]), { PYSPARK_DRIVER_PYTHON: 'ipython' })).toEqual({
      PYSPARK_DRIVER_PYTHON_OPTS: '-i',
    });
  });

  it('changes nothing on a terminal, for IPython or Jupyter, or when -i is there already', () => {
    expect(pysparkStdinEnv(true, new Map(), {})).toEqual({});
    expect(pysparkStdinEnv(false, new Map(), { PYSPARK_DRIVER_PYTHON: 'jupyter', PYSPARK_DRIVER_PYTHON_OPTS: 'notebook' })).toEqual({});
    expect(pysparkStdinEnv(false, new Map([['spark.pyspark.driver.python', '/opt/ipython']]), {})).toEqual({});
    expect(pysparkStdinEnv(false, new Map(), { PYSPARK_DRIVER_PYTHON_OPTS: '-q -i' })).toEqual({});
  });
});
