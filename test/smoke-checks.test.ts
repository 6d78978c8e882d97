/**
 * The cluster scenarios' SparkPi verdict (pure): each failed condition is named, so a failing scenario
 * says which one in its first and last line.
 */
import { describe, expect, it } from 'vitest';
import { piFailures } from '../src/smoke/checks.ts';

const good = 'INFO TaskSetManager: Finished task 0.0 in stage 0.0 (TID 0)\nPi is roughly 3.139812\n';

describe('piFailures', () => {
  it('accepts a run whose estimate is 3.1x, with task lines, both pods Succeeded', () => {
    expect(piFailures('Succeeded', 'Succeeded', good)).toBe('');
  });
  it('names every condition that failed', () => {
    expect(piFailures('Failed', undefined, '')).toBe(
      'submit pod Failed; driver not found; no "Pi is roughly" line in the driver log; no "Finished task" line in the driver log',
    );
    expect(piFailures('Succeeded', 'Running', good)).toBe('driver Running');
  });
  it('quotes a wrong estimate rather than calling it missing', () => {
    expect(piFailures('Succeeded', 'Succeeded', good.replace('3.139812', '2.7'))).toBe('the driver printed "Pi is roughly 2.7"');
  });
});
