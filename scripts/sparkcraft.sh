#!/usr/bin/env bash
# Entry point used by the npm scripts: install what the command uses (npm packages always; the
# host tools of the steps that need them, idempotently and quietly when already there), then run
# the CLI. So each npm script works as the first command on a fresh machine.
. "$(dirname "$0")/lib.sh"
cd "$SPARKCRAFT_ROOT"
stamp=node_modules/.sparkcraft-lock-hash
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(sha256sum package-lock.json | cut -d' ' -f1)" ]; then
  bash scripts/setup.sh npm-only >/dev/null
fi
# Which scripts/setup.d parts each command needs (render and stage need only npm and Go).
case "${1:-}" in
  build) parts=(build-tools) ;;            # mmdebstrap, pigz, umoci, skopeo, squashfs-tools, a JDK
  lock) parts=(build-tools) ;;             # maven (the jar roots' closures) and python3-pip (wheel closures)
  smoke) parts=(build-tools k8s) ;;        # podman + runc for the rock, the local cluster for spark8t
  publish) parts=(build-tools registry cosign) ;; # skopeo, the loopback registry's tools, cosign (signing)
  verify) parts=(registry cosign) ;;       # skopeo, cosign
  *) parts=() ;;
esac
for p in "${parts[@]}"; do bash scripts/setup.sh "$p"; done
# The CLI runs from a bundle of its sources (scripts/bundle-cli.mjs: plain node, no tsx loader hooks,
# ~0.6 s less per command), made again whenever any src/**/*.ts changed name, size, mtime or inode, the
# npm packages changed, or the bundler did. SPARKCRAFT_TSX=1 runs the sources through tsx instead.
if [ "${SPARKCRAFT_TSX:-}" != 1 ]; then
  key=$({ find src -name '*.ts' -printf '%P %s %T@ %i\n' | LC_ALL=C sort; stat -c '%s %Y %i' scripts/bundle-cli.mjs; cat "$stamp"; } | sha256sum | cut -c1-16)
  bundle=build/cli/main-$key.mjs
  if [ ! -f "$bundle" ]; then
    mkdir -p build/cli
    # Bundles of older sources go once nothing can still be starting from them.
    find build/cli -name 'main-*.mjs*' -mmin +10 -delete 2>/dev/null || true
    node scripts/bundle-cli.mjs "$bundle" || bundle=
  fi
  # At DEBUG the stack of an error is printed: through the bundle's source map, it names src/ lines.
  maps=(); case " ${*,,} " in *" --log-level debug "* | *" --log-level=debug "*) maps=(--enable-source-maps) ;; esac
  [ -n "$bundle" ] && exec node "${maps[@]}" "$bundle" "$@"
  say "running the CLI through tsx instead"
fi
exec node --import tsx src/cli/main.ts "$@"
