#!/usr/bin/env bash
# The Spark Connect thin client (pyspark-client, no JVM) in its own venv: the connect scenarios run it on
# the host against a server on the node. Pinned by scripts/connect-client/requirements.txt.
. "$(dirname "$0")/../lib.sh"
req="$SPARKCRAFT_ROOT/scripts/connect-client/requirements.txt"
venv="$SPARKCRAFT_CACHE/venv-connect"
stamp="$venv/.sparkcraft-$(sha256sum "$req" | cut -c1-16)"
[ -f "$stamp" ] && exit 0
install() {
  [ -f "$stamp" ] && return 0
  say "installing the Spark Connect client (pyspark-client) into $venv"
  # venv scripts carry absolute shebangs, so the venv is built in place; the stamp marks it complete.
  rm -rf "$venv"; python3 -m venv "$venv"
  # (pyspark-client is published as a source distribution only; every other requirement as a wheel)
  "$venv/bin/pip" install -q --disable-pip-version-check --prefer-binary -r "$req" >/dev/null || return 1
  touch "$stamp"
}
export -f install say; export venv stamp req
with_lock connect-client bash -c install
