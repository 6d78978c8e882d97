#!/usr/bin/env bash
# The whole test suite: install what is needed, type-check, prove the committed manifests are
# current, then run every vitest suite (unit, real kube-apiserver, real Spark, real artifacts).
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
say "a fresh local Kubernetes API"
# What earlier runs left (hundreds of namespaces and accounts) would slow the cluster and the
# benchmarks' list; every test makes what it needs.
bash scripts/local-k8s.sh reset
say "tests"
report=$(mktemp -d)/vitest.json
set +e
npx vitest run --reporter=default --reporter=json --outputFile="$report" "$@"
rc=$?
set -e
# The closing line CI reads: 'tests: N passed, N failed, N skipped'.
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const skipped = r.numPendingTests + r.numTodoTests;
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' "$report" || true
exit $rc
