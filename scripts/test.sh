#!/usr/bin/env bash
# The whole test suite: install what is needed, type-check, prove the committed manifests are
# current, then run the three vitest tiers (vitest.config.ts): unit (pure logic), tools (real tools
# and the build, no Kubernetes), cluster (the local kube-apiserver and node); the tools and cluster
# tiers each run two lanes side by side (vitest.config.ts says which files). A failing tier does not
# stop the next; the last line sums all three, and the exit status is non-zero if any tier failed.
# Arguments (file filters, -t NAME) go to every tier.
. "$(dirname "$0")/lib.sh"
cd "$SPARKCRAFT_ROOT"
say "setup"
bash scripts/setup.sh
say "typecheck"
npx tsc --noEmit
npx biome check .
if [ -f rockcraft.yaml ]; then
  say "render --check"
  bash scripts/sparkcraft.sh render --check
fi
reports=$(mktemp -d)
# With a filter, a tier may hold none of the files named.
extra=(); [ $# -eq 0 ] || extra=(--passWithNoTests)
rc=0
PROJECTS=(unit tools tools-side cluster-node cluster cluster-side)
side_pid=
# An interrupted run (Ctrl-C, SIGTERM) stops there, side lane included: it does not go on to the next tier.
# vitest handles SIGINT itself and exits 130, and bash then skips its own trap (it waits for a child
# that handled the signal), so a status of 130 or 143 from vitest stops the run as the trap does.
interrupted() {
  [ -z "$side_pid" ] || kill -TERM "$side_pid" 2>/dev/null || true
  say "interrupted: the remaining tiers are not run"
  exit 130
}
trap interrupted INT TERM
# run_vitest PROJECT [ARGS]: one vitest project, its JSON report under $reports.
run_vitest() {
  npx vitest run --project "$1" --reporter=default --reporter=json --outputFile="$reports/$1.json" "${@:2}"
}
# counted PROJECT STATUS: an interrupted project stops the run; a failed one is counted.
counted() {
  case $2 in 130 | 143) interrupted ;; esac
  [ "$2" -eq 0 ] || { say "tier $1 failed (status $2)"; rc=1; }
}
# project PROJECT [ARGS]: one project in the foreground.
project() {
  local status
  set +e
  run_vitest "$@"
  status=$?
  set -e
  counted "$1" "$status"
}
# lanes MAIN SIDE [ARGS]: two projects side by side (vitest.config.ts says why they may be); the side
# lane's output follows the main lane's, whole, so the two never interleave.
lanes() {
  local main=$1 side=$2 status
  shift 2
  say "tests: $main, and $side beside it"
  run_vitest "$side" "${extra[@]}" "$@" >"$reports/$side.log" 2>&1 &
  # Background jobs of a script ignore SIGINT: interrupted() stops this one.
  side_pid=$!
  project "$main" "${extra[@]}" "$@"
  set +e
  wait "$side_pid"
  status=$?
  set -e
  side_pid=
  say "tests: $side (ran beside $main)"
  cat "$reports/$side.log"
  counted "$side" "$status"
}
say "tests: unit"
project unit "${extra[@]}" "$@"
lanes tools tools-side "$@"
say "a fresh local Kubernetes API"
# What earlier runs left (hundreds of namespaces and accounts) would slow the cluster and the
# benchmarks' list; every test makes what it needs.
if bash scripts/local-k8s.sh reset; then
  say "tests: cluster-node"
  project cluster-node "${extra[@]}" "$@"
  lanes cluster cluster-side "$@"
else
  say "local-k8s.sh reset failed: the cluster tier is not run"
  rc=1
fi
# The closing line CI reads: 'tests: N passed, N failed, N skipped', over every tier. A tier that
# wrote no report (it crashed, or never ran) counts as one failure.
node -e '
const fs = require("fs");
let passed = 0, failed = 0, skipped = 0;
for (const tier of process.argv.slice(2)) {
  const f = `${process.argv[1]}/${tier}.json`;
  if (!fs.existsSync(f)) { console.error(`${tier}: no report`); failed++; continue; }
  const r = JSON.parse(fs.readFileSync(f, "utf8"));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + r.numTodoTests;
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
' "$reports" "${PROJECTS[@]}" || rc=1
exit $rc
