#!/usr/bin/env bash
# The reference implementation, Python spark8t, in its own venv: compatibility tests and the
# benchmark run it against the same kube-apiserver as ours.
. "$(dirname "$0")/../lib.sh"
SPARK8T_PY_VERSION=${SPARK8T_PY_VERSION:-1.6.0}
venv="$SPARKCRAFT_CACHE/venv-spark8t"
stamp="$venv/.sparkcraft-spark8t-$SPARK8T_PY_VERSION"
[ -f "$stamp" ] && exit 0
install() {
  [ -f "$stamp" ] && return 0
  say "installing Python spark8t $SPARK8T_PY_VERSION (reference) into $venv"
  # venv scripts carry absolute shebangs, so the venv is built in place; the stamp marks it complete.
  rm -rf "$venv"; python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "spark8t==$SPARK8T_PY_VERSION" >/dev/null || return 1
  touch "$stamp"
}
export -f install say; export venv stamp SPARK8T_PY_VERSION
with_lock spark8t-py bash -c install
