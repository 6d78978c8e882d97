/**
 * Class-data sharing (issue 24): the rock's archive of Spark's classes, made at build time by
 * `templates/rock/opt/spark/cds/train.sh` (a training run of the driver and executor JVMs, then
 * `java -Xshare:dump`) in the rock's own root, and used by `opt/spark/entrypoint.sh`.
 *
 * The manifest's `spark-cds` part runs the script at prime, after every other part (`CDS_PRIME`, for
 * rockcraft). The built-in backend recognizes that part by its script, as it does the file-mode rule's,
 * and runs the same train.sh in a root made of the layers below it, unpacked as a container runtime
 * unpacks them, so that every jar has the size and time the image gives it (the JVM checks both
 * before it maps the archive), in network and mount namespaces of its own (loopback only, nothing
 * mounted outside them); what the script wrote under `opt/spark/cds` is the part's layer.
 */
import { execa } from 'execa';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { hostArch } from '../lib/arch.ts';
import { UserError } from '../lib/errors.ts';
import { temporary } from '../lib/interrupt.ts';
import { BINFMT_LOCK, holdShared } from '../lib/tools/mmdebstrap.ts';
import type { Cell } from '../lib/state.ts';
import type { LayerBlob } from './layer.ts';
import { CDS_DIR, CDS_OUTPUTS, CDS_TRAIN } from '../lib/cds.ts';

/**
 * Run train.sh in a root unpacked from `layers` (in order) and move what it wrote under CDS_DIR
 * (CDS_OUTPUTS: train.sh itself is the config part's) to a new directory, returned (the caller
 * removes it). The root is removed in any case. Another architecture's root runs under
 * binfmt_misc's emulation (held shared, as a bootstrap holds it).
 */
export async function trainInLayers(layers: LayerBlob[], cell: Cell, scratch: string): Promise<string> {
  mkdirSync(scratch, { recursive: true });
  const root = temporary(join(scratch, `cds-root.tmp-${process.pid}`));
  const out = temporary(join(scratch, `cds-out.tmp-${process.pid}`));
  rmSync(root, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
  mkdirSync(root);
  const release = cell.arch !== hostArch() ? await holdShared(BINFMT_LOCK) : undefined;
  try {
    for (const l of layers) {
      const r = await execa('bash', ['-o', 'pipefail', '-c', 'pigz -dc "$1" | tar -x --numeric-owner -p -f - -C "$2"', 'unpack', l.path, root], {
        reject: false,
      });
      if (r.exitCode !== 0) throw new UserError('E_TOOL', `class-data training: unpacking layer ${l.comment} failed: ${r.stderr.trim().split('\n').at(-1)}`);
    }
    // Loopback only (a network namespace with lo up), /proc and /dev mounted in a mount namespace
    // that ends with the script: nothing is left mounted on the host.
    const inRoot = [
      'set -e',
      'ip link set lo up',
      'mkdir -p "$1/proc" "$1/dev"',
      'mount -t proc proc "$1/proc"',
      'mount --rbind /dev "$1/dev"',
      `exec chroot "$1" /usr/bin/env -i /bin/bash ${CDS_TRAIN}`,
    ].join('\n');
    const r = await execa('unshare', ['--net', '--mount', '--fork', '--', 'bash', '-c', inRoot, 'train', root], { reject: false, all: true });
    if (r.exitCode !== 0) {
      const said = (r.all ?? '')
        .trim()
        .split('\n')
        .filter((l) => l.trim());
      throw new UserError('E_BUILD', `class-data training failed (status ${r.exitCode}): ${said.slice(-3).join(' | ')}`, {
        hint: 'the training run and the archive dump are templates/rock/opt/spark/cds/train.sh; set SPARKCRAFT_KEEP_CDS_ROOT=1 to keep its root',
      });
    }
    mkdirSync(out);
    for (const f of CDS_OUTPUTS) {
      if (!existsSync(join(root, CDS_DIR, f))) throw new UserError('E_BUILD', `class-data training wrote no ${CDS_DIR}/${f}`);
      renameSync(join(root, CDS_DIR, f), join(out, f));
    }
    return out;
  } finally {
    await release?.();
    if (!process.env.SPARKCRAFT_KEEP_CDS_ROOT) rmSync(root, { recursive: true, force: true });
  }
}
