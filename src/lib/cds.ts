/**
 * Class-data sharing (issue 24), the rule as data: where the rock's archive of Spark's classes lives
 * and the manifest part that makes it at prime (rendered by render/, recognized and run by the
 * built-in backend, pack/cds.ts). The archive itself is made by `templates/rock/opt/spark/cds/train.sh`
 * and used by `opt/spark/entrypoint.sh`.
 */

/** Where the archive, its class path and its class list are in the image. */
export const CDS_DIR = 'opt/spark/cds';
/** What train.sh writes into CDS_DIR: the archive, the class path it was made for, and its class list. */
export const CDS_OUTPUTS = ['classes.lst', 'classpath', 'spark.jsa'];
/** The training script in the image (the config part's file). */
export const CDS_TRAIN = `/${CDS_DIR}/train.sh`;

/**
 * The `spark-cds` part's override-prime, one command a line (rendered into rockcraft.yaml; the
 * built-in backend runs train.sh itself when a part carries exactly these lines). rockcraft's prime
 * holds the parts without the base, and the build instance is the base's Ubuntu: the root is the
 * instance's system with the primed parts copied over it (`cp -a` keeps each jar's time).
 */
export const CDS_PRIME: string[] = [
  'craftctl default',
  'root="$(mktemp -d)"',
  `trap 'umount "$root/proc" 2>/dev/null || true; rm -rf "$root"' EXIT`,
  'for d in bin etc lib lib64 sbin usr; do if [ -e "/$d" ]; then cp -a "/$d" "$root/"; fi; done',
  'cp -a "$CRAFT_PRIME/." "$root/"',
  'mkdir -p "$root/proc" "$root/dev" "$root/tmp" && chmod 1777 "$root/tmp"',
  'cp -a /dev/null /dev/zero /dev/random /dev/urandom "$root/dev/"',
  'mount -t proc proc "$root/proc"',
  `chroot "$root" /usr/bin/env -i /bin/bash ${CDS_TRAIN}`,
  `mkdir -p "$CRAFT_PRIME/${CDS_DIR}"`,
  `cp -a "$root/${CDS_DIR}/." "$CRAFT_PRIME/${CDS_DIR}/"`,
];
export const CDS_PRIME_SCRIPT = [...CDS_PRIME, ''].join('\n');
