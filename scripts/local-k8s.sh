#!/usr/bin/env bash
# A real Kubernetes API on loopback for tests: etcd + kube-apiserver with TLS and RBAC.
#   scripts/local-k8s.sh start|reset|stop|status|env
# reset: stop, drop etcd's data, start again (an empty cluster; npm test starts with one). There is
# no controller-manager, so deleted namespaces never finish terminating: reset is how they go.
# No kubelet or scheduler: objects are stored and validated, pods stay Pending.
# Writes an admin kubeconfig and a restricted one (namespace `restricted-ns` only: may create
# ServiceAccounts and Secrets there, not Roles or RoleBindings, cannot list or create namespaces).
. "$(dirname "$0")/lib.sh"
K8S_VERSION=${K8S_VERSION:-v1.31.14}
DIR=${LOCAL_K8S_DIR:-$SPARKCRAFT_CACHE/local-k8s}
API_PORT=${LOCAL_K8S_API_PORT:-16443}
ETCD_PORT=${LOCAL_K8S_ETCD_PORT:-12379}
ETCD_PEER_PORT=$((ETCD_PORT + 1))
RESTRICTED_NS=restricted-ns
bin="$SPARKCRAFT_CACHE/bin"
APISERVER="$bin/kube-apiserver-$K8S_VERSION" KUBECTL="$bin/kubectl-$K8S_VERSION" ETCD="$bin/etcd-$K8S_VERSION"

alive() { [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }
ready() { curl -fsS --max-time 2 --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" "https://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1; }
kc() { "$KUBECTL" --kubeconfig "$DIR/admin.kubeconfig" "$@"; }

pki() {
  local p="$DIR/pki"
  [ -f "$p/.complete" ] && return 0
  rm -rf "$p"; mkdir -p "$p"; chmod 700 "$p"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=sparkcraft-local-ca" -keyout "$p/ca.key" -out "$p/ca.crt" 2>/dev/null
  cert() { # name subject [san]
    openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$p/$1.key" -out "$p/$1.csr" 2>/dev/null
    local ext="$p/$1.ext"; : > "$ext"
    [ -n "${3:-}" ] && printf 'subjectAltName=%s\n' "$3" > "$ext"
    openssl x509 -req -in "$p/$1.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial -days 3650 -extfile "$ext" -out "$p/$1.crt" 2>/dev/null
  }
  cert apiserver "/CN=kube-apiserver" "IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1"
  cert admin "/O=system:masters/CN=admin"
  cert restricted "/CN=restricted"
  openssl genrsa -out "$p/sa.key" 2048 2>/dev/null
  openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub" 2>/dev/null
  touch "$p/.complete"
}

kubeconfig() { # file user
  local f=$1 u=$2
  cat > "$f.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $DIR/pki/ca.crt
users:
- name: $u
  user:
    client-certificate: $DIR/pki/$u.crt
    client-key: $DIR/pki/$u.key
contexts:
- name: $u@local
  context:
    cluster: local
    user: $u
$( [ "$u" = restricted ] && echo "    namespace: $RESTRICTED_NS" )
current-context: $u@local
EOF
  chmod 600 "$f.tmp"; mv "$f.tmp" "$f"
}

start() {
  for f in "$APISERVER" "$KUBECTL" "$ETCD"; do [ -x "$f" ] || bash "$SPARKCRAFT_ROOT/scripts/setup.d/20-k8s.sh"; done
  mkdir -p "$DIR"
  if alive apiserver && alive etcd && ready; then return 0; fi
  stop_procs
  pki
  say "starting etcd on 127.0.0.1:$ETCD_PORT"
  setsid "$ETCD" --name local --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "local=http://127.0.0.1:$ETCD_PEER_PORT" --quota-backend-bytes=1073741824 \
    >"$DIR/etcd.log" 2>&1 < /dev/null &
  echo $! > "$DIR/etcd.pid"
  for _ in $(seq 1 100); do curl -fsS --max-time 1 "http://127.0.0.1:$ETCD_PORT/health" >/dev/null 2>&1 && break; sleep 0.2; done
  curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" >/dev/null 2>&1 || { tail -20 "$DIR/etcd.log" >&2; die "etcd did not become healthy (log: $DIR/etcd.log)"; }
  say "starting kube-apiserver $K8S_VERSION on https://127.0.0.1:$API_PORT"
  setsid "$APISERVER" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
    --tls-cert-file "$DIR/pki/apiserver.crt" --tls-private-key-file "$DIR/pki/apiserver.key" \
    --client-ca-file "$DIR/pki/ca.crt" \
    --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$DIR/pki/sa.pub" \
    --service-account-signing-key-file "$DIR/pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 \
    --disable-admission-plugins ServiceAccount \
    --enable-priority-and-fairness=false \
    --cert-dir "$DIR/pki" \
    >"$DIR/apiserver.log" 2>&1 < /dev/null &
  echo $! > "$DIR/apiserver.pid"
  for _ in $(seq 1 240); do ready && break; alive apiserver || break; sleep 0.25; done
  ready || { tail -20 "$DIR/apiserver.log" >&2; die "kube-apiserver did not become ready (log: $DIR/apiserver.log)"; }
  kubeconfig "$DIR/admin.kubeconfig" admin
  kubeconfig "$DIR/restricted.kubeconfig" restricted
  # The restricted user: one namespace, ServiceAccounts and Secrets yes, Roles/RoleBindings no.
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $RESTRICTED_NS}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: restricted-user, namespace: $RESTRICTED_NS}
rules:
- apiGroups: [""]
  resources: [serviceaccounts, secrets, pods, configmaps, services]
  verbs: [create, get, list, watch, delete, deletecollection, update, patch]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, list, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: restricted-user, namespace: $RESTRICTED_NS}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: restricted-user}
subjects:
- {kind: User, name: restricted, apiGroup: rbac.authorization.k8s.io}
EOF
  say "local Kubernetes API ready (kubeconfig: $DIR/admin.kubeconfig)"
}

stop_procs() {
  for p in apiserver etcd; do
    if alive "$p"; then
      local pid; pid=$(cat "$DIR/$p.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$DIR/$p.pid"
  done
}

case "${1:-}" in
  start) with_lock local-k8s bash "$0" _start ;;
  _start) start ;;
  reset) with_lock local-k8s bash "$0" _reset ;;
  _reset) stop_procs; rm -rf "$DIR/etcd"; start ;;
  stop) stop_procs; say "local Kubernetes API stopped" ;;
  status)
    if alive apiserver && alive etcd && ready; then echo "running https://127.0.0.1:$API_PORT"; else echo "stopped"; exit 3; fi ;;
  env)
    cat <<EOF
export KUBECONFIG_ADMIN=$DIR/admin.kubeconfig
export KUBECONFIG_RESTRICTED=$DIR/restricted.kubeconfig
export K8S_API_URL=https://127.0.0.1:$API_PORT
export RESTRICTED_NAMESPACE=$RESTRICTED_NS
export LOCAL_K8S_DIR=$DIR
export KUBECTL=$KUBECTL
EOF
    ;;
  *) die "usage: $0 start|reset|stop|status|env" ;;
esac
