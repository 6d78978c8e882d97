#!/usr/bin/env bash
# The whole test suite: install what is needed, type-check, prove the committed manifests are
# current, then run the three vitest tiers (vitest.config.ts): unit (pure logic), tools (real tools
# and the build, no Kubernetes), cluster (the local kube-apiserver and node). A failing tier does not
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
for tier in unit tools cluster; do
  if [ "$tier" = cluster ]; then
    say "a fresh local Kubernetes API"
    # What earlier runs left (hundreds of namespaces and accounts) would slow the cluster and the
    # benchmarks' list; every test makes what it needs.
    bash scripts/local-k8s.sh reset || { say "local-k8s.sh reset failed: the cluster tier is not run"; rc=1; continue; }
  fi
  say "tests: $tier"
  set +e
  npx vitest run --project "$tier" --reporter=default --reporter=json --outputFile="$reports/$tier.json" "${extra[@]}" "$@"
  status=$?
  set -e
  [ "$status" -eq 0 ] || { say "tier $tier failed (status $status)"; rc=1; }
done
# The closing line CI reads: 'tests: N passed, N failed, N skipped', over every tier. A tier that
# wrote no report (it crashed, or never ran) counts as one failure.
node -e '
const fs = require("fs");
let passed = 0, failed = 0, skipped = 0;
for (const tier of ["unit", "tools", "cluster"]) {
  const f = `${process.argv[1]}/${tier}.json`;
  if (!fs.existsSync(f)) { console.error(`${tier}: no report`); failed++; continue; }
  const r = JSON.parse(fs.readFileSync(f, "utf8"));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + r.numTodoTests;
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
' "$reports" || rc=1
exit $rc
