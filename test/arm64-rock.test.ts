/**
 * The default line's arm64 rock (another with SPARKCRAFT_LINE, as the release's arm64 job runs it), really run (tools tier): the built-in backend's arm64 image under
 * qemu-user-static through binfmt_misc (scripts/binfmt.sh, which setup runs), with podman. The same
 * checks as the host's rock, on the emulated CPU: a PySpark job and the documented SparkPi in local
 * mode, and spark8t's own arm64 executable. Emulation makes each JVM about 7x slower (the times are
 * printed, not asserted: bench:build compares them with the native run).
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { build } from '../src/pipeline.ts';
import { loadMatrix, resolveLine } from '../src/config/matrix.ts';
import { RockRunner } from '../src/smoke/runner.ts';
import { SPARKD_DRY_RUN, SPARKD_EXECUTOR_COMMAND, expectOutput, sparkPiFromExamplesJar } from '../src/smoke/checks.ts';
import { ROOT } from './support/k8s.ts';

describe('the arm64 rock of the default line, run under emulation', () => {
  it('is AArch64 through and through: uname, the image config, spark8t, a PySpark job and SparkPi in local mode', async () => {
    await execa('bash', [`${ROOT}/scripts/binfmt.sh`, 'register']);
    const line = process.env.SPARKCRAFT_LINE || undefined;
    const cell = resolveLine(loadMatrix(), { arch: 'arm64', ...(line ? { line } : {}) });
    const b = await build('rock', { arch: 'arm64', backend: 'builtin', ...(line ? { line } : {}) });
    expect(b.artifact).toMatch(/_arm64\.rock$/);
    const rock = await RockRunner.load(b.artifact, 'charmed-spark:arm64-test');
    const inspect = await execa('podman', ['image', 'inspect', '--format', '{{.Os}}/{{.Architecture}}', 'charmed-spark:arm64-test']);
    expect(inspect.stdout.trim()).toBe('linux/arm64');

    let t = Date.now();
    const r = await rock.run(
      [
        '-c',
        'uname -m && od -An -j18 -N2 -tu2 "$(command -v spark-client.service-account-registry)" | tr -d " " | sed "s/^/e_machine=/" && spark-client.service-account-registry --help >/dev/null && echo spark8t-ok && spark-submit --master "local[2]" --conf spark.ui.enabled=false /opt/spark/examples/pi.py 2 2>&1',
      ],
      { entrypoint: '/bin/bash', timeout: 900_000 },
    );
    // 183 is EM_AARCH64: spark8t in the image is the arm64 build, and it runs.
    expectOutput('arm64 rock', r, /^aarch64\ne_machine=183\nspark8t-ok$/m);
    expectOutput('pi.py under emulation', r, /Pi is roughly 3\.1\d*/);
    console.log(`arm64 ${cell.line.spark}: pi.py (PySpark, local[2]) under emulation in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    t = Date.now();
    expect(await sparkPiFromExamplesJar(rock, cell.paths.examplesJar)).toMatch(/^Pi is roughly 3\.1/);
    console.log(`arm64 ${cell.line.spark}: SparkPi (examples jar, local[2]) under emulation in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    // The image's own entrypoint, as a Spark pod starts it: pebble, then sparkd. Under bookworm's QEMU 7.2
    // (the jobs above) pebble stops at once ("cannot start child process reaper: child subreaping unavailable
    // on this platform"), which the bash entrypoint never shows: it runs under QEMU 10 (binfmt.sh's backports).
    await execa('bash', [`${ROOT}/scripts/binfmt.sh`, 'register'], { env: { SPARKCRAFT_QEMU: 'backports' } });
    try {
      t = Date.now();
      const ex = await rock.run(['executor'], { envs: SPARKD_DRY_RUN, timeout: 600_000 });
      expectOutput('arm64 sparkd through pebble', ex, SPARKD_EXECUTOR_COMMAND);
      console.log(`arm64 ${cell.line.spark}: pebble and sparkd (an executor's command, dry run) under QEMU 10 in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    } finally {
      await execa('bash', [`${ROOT}/scripts/binfmt.sh`, 'register']);
    }
  }, 1_800_000);
});
