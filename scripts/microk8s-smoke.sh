#!/usr/bin/env bash
# Smoke-test a built rock and snap on MicroK8s (the release pipeline, on an Ubuntu runner):
#   scripts/microk8s-smoke.sh all                 install MicroK8s, import, install, run, check
#   scripts/microk8s-smoke.sh <step> [...]        one step: install-microk8s import-rock install-snap
#                                                 create-sa spark-pi history-server
#   scripts/microk8s-smoke.sh local               the steps that need no MicroK8s, against the
#                                                 project's local kube-apiserver (no kubelet: the
#                                                 driver pod is created, not run)
# Inputs (environment): ROCK (.rock file), SNAP (.snap file), MICROK8S_CHANNEL, NAMESPACE,
# SAR / SUBMIT (commands; default the snap's spark-client.*), IMAGE (default: the rock pushed to
# the MicroK8s registry).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
MICROK8S_CHANNEL=${MICROK8S_CHANNEL:-1.31-strict/stable}
NAMESPACE=${NAMESPACE:-spark-smoke}
USERNAME=${USERNAME:-spark}
REGISTRY=${REGISTRY:-localhost:32000}
IMAGE=${IMAGE:-$REGISTRY/charmed-spark:smoke}
SAR=${SAR:-spark-client.service-account-registry}
SUBMIT=${SUBMIT:-spark-client.spark-submit}
KUBECTL=${KUBECTL:-sudo microk8s kubectl}
WAIT_APP=${WAIT_APP:-true}

say() { printf '%s smoke: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf 'smoke: FAILED: %s\n' "$*" >&2; exit 1; }

install-microk8s() {
  say "installing MicroK8s $MICROK8S_CHANNEL"
  sudo snap install microk8s --channel="$MICROK8S_CHANNEL"
  sudo microk8s status --wait-ready
  for addon in dns rbac hostpath-storage registry; do sudo microk8s enable "$addon"; done
  sudo microk8s status --wait-ready
  mkdir -p "$HOME/.kube"
  sudo microk8s config > "$HOME/.kube/config"
  chmod 600 "$HOME/.kube/config"
}

import-rock() {
  [ -f "${ROCK:-}" ] || die "ROCK must name the built .rock file"
  say "pushing $ROCK to $IMAGE"
  for _ in $(seq 1 30); do curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1 && break; sleep 5; done
  skopeo copy --dest-tls-verify=false "oci-archive:$ROCK" "docker://$IMAGE"
}

install-snap() {
  [ -f "${SNAP:-}" ] || die "SNAP must name the built .snap file"
  say "installing $SNAP"
  sudo snap install --dangerous "$SNAP"
  sudo snap connect spark-client:dot-kube-config
}

create-sa() {
  say "creating service account $NAMESPACE:$USERNAME"
  $SAR create --username "$USERNAME" --namespace "$NAMESPACE" --conf spark.smoke.source=microk8s-smoke
  local listed conf
  listed=$($SAR list) || die "service-account-registry list failed"
  grep -qx "$NAMESPACE:$USERNAME" <<<"$listed" || die "the account is not listed"
  conf=$($SAR get-config --username "$USERNAME" --namespace "$NAMESPACE") || die "service-account-registry get-config failed"
  grep -qx 'spark.smoke.source=microk8s-smoke' <<<"$conf" || die "its configuration was not stored"
}

spark-pi() {
  local pod=smoke-pi-driver
  say "running pi.py in cluster mode"
  $SUBMIT --username "$USERNAME" --namespace "$NAMESPACE" --deploy-mode cluster \
    --conf "spark.kubernetes.container.image=$IMAGE" \
    --conf "spark.kubernetes.driver.pod.name=$pod" \
    --conf "spark.kubernetes.submission.waitAppCompletion=$WAIT_APP" \
    --conf spark.executor.instances=1 \
    local:///opt/spark/examples/pi.py 10
  $KUBECTL -n "$NAMESPACE" get pod "$pod" -o jsonpath='{.spec.serviceAccountName}' | grep -qx "$USERNAME" || die "driver pod $pod does not run as $USERNAME"
  if [ "$WAIT_APP" = true ]; then
    $KUBECTL -n "$NAMESPACE" logs "$pod" | grep -E 'Pi is roughly 3\.1' || die "the driver log has no result"
  fi
}

history-server() {
  say "starting the history server from the rock"
  $KUBECTL -n "$NAMESPACE" run history --image="$IMAGE" --restart=Never
  $KUBECTL -n "$NAMESPACE" wait --for=condition=Ready pod/history --timeout=300s
  $KUBECTL -n "$NAMESPACE" exec history -- pebble start history-server
  for _ in $(seq 1 60); do
    if $KUBECTL -n "$NAMESPACE" exec history -- python3 -c 'import urllib.request,sys; sys.stdout.write(urllib.request.urlopen("http://localhost:18080/api/v1/applications").read().decode())' 2>/dev/null | grep -q '\['; then
      say "history server answers"; return 0
    fi
    sleep 5
  done
  die "the history server did not answer"
}

local-mode() {
  # Against scripts/local-k8s.sh: the account and the driver pod, with whatever SAR/SUBMIT point at.
  eval "$(bash "$here/local-k8s.sh" env)"
  export KUBECONFIG=$KUBECONFIG_ADMIN
  KUBECTL="$KUBECTL_BIN --kubeconfig $KUBECONFIG_ADMIN"
  WAIT_APP=false
  create-sa
  spark-pi
  say "local steps passed"
}

[ $# -gt 0 ] || set -- all
for step in "$@"; do
  case "$step" in
    all) install-microk8s; import-rock; install-snap; create-sa; spark-pi; history-server ;;
    local) KUBECTL_BIN=$(bash "$here/local-k8s.sh" env | sed -n 's/^export KUBECTL=//p'); local-mode ;;
    install-microk8s|import-rock|install-snap|create-sa|spark-pi|history-server) "$step" ;;
    *) die "unknown step $step" ;;
  esac
done
