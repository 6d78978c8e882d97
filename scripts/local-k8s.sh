#!/usr/bin/env bash
# A real single-node Kubernetes on this machine for tests and for trying the rock:
#   scripts/local-k8s.sh start|stop|reset|status|env
# start: etcd, kube-apiserver, and (unless LOCAL_K8S_NODE=0) the node: containerd + runc, bridge CNI,
#   kube-controller-manager, kube-scheduler, kubelet, kube-proxy (iptables) and CoreDNS as a pod.
#   Idempotent: what runs is kept, what died (or a killed start left half-done) is started again.
#   Writes $DIR/cluster.json (read by src/lib/cluster.ts), an admin kubeconfig and a restricted one
#   (namespace `restricted-ns` only: may create ServiceAccounts and Secrets there, not Roles or
#   RoleBindings, cannot list or create namespaces).
#   Each start writes $DIR/start.phases: the seconds since it began at each step (bench:cluster prints them).
# stop: no process, mount, iptables rule, address, bridge or sysctl change of ours is left.
# reset: stop, drop etcd's data, start again (an empty cluster; npm test starts with one).
# env: export lines (KUBECONFIG is the admin's): eval "$(scripts/local-k8s.sh env)".
# With the node, start also runs the local S3 server (scripts/local-s3.sh, SeaweedFS) on loopback and
# on the node address for pods (same port; LOCAL_S3_DIR/LOCAL_S3_PORT choose it; LOCAL_K8S_S3=0 leaves
# it out) and stop stops it; cluster.json names its endpoints and the file holding its secret key.
# LOCAL_K8S_NODE=0: an API-only instance (etcd + apiserver, pods stay Pending); only one node may
# run per machine (kube-proxy's iptables chains, the bridge and the node address are the machine's).
# Network rule: pods reach only each other, the node and Services; no masquerade of pod traffic,
# no upstream DNS, pod traffic towards any interface but the bridge is dropped, image pulls from
# any registry but the local one (scripts/local-registry.sh) go to a closed loopback port.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"
K8S_VERSION=${K8S_VERSION:-v1.31.14}
MINOR=$(echo "$K8S_VERSION" | cut -d. -f2) # settings that differ between Kubernetes versions
COREDNS_VERSION=v1.11.3 PAUSE_TAG=3.10
DIR=${LOCAL_K8S_DIR:-$SPARKCRAFT_CACHE/local-k8s}
API_PORT=${LOCAL_K8S_API_PORT:-16443}
# etcd listens on unix sockets in $DIR (0700) only, client and peer: no other local user reaches it
# (over TCP on loopback, any user could write RBAC objects into it and so own the cluster). etcd wants
# "host:port" in its URLs and binds a unix URL's host:port as a path relative to its working directory,
# which is $DIR: the sockets are $DIR/etcd.sock:0 and $DIR/etcd-peer.sock:0.
ETCD_SOCK="$DIR/etcd.sock:0" ETCD_CLIENT_URL="unix://etcd.sock:0" ETCD_PEER_URL="unix://etcd-peer.sock:0"
NODE=${LOCAL_K8S_NODE:-1}
WITH_S3=${LOCAL_K8S_S3:-1}
S3_PORT=${LOCAL_S3_PORT:-18333}
LOCAL_S3_DIR=${LOCAL_S3_DIR:-}
RESTRICTED_NS=restricted-ns
NODE_NAME=sparkcraft-node NODE_IP=10.243.0.1
POD_CIDR=10.244.0.0/16 NODE_POD_CIDR=10.244.0.0/24 POD_GW=10.244.0.1
SVC_CIDR=10.96.0.0/16 DNS_IP=10.96.0.10 BRIDGE=sparkcraft0 CNI_NET=sparkcraft
MARK=sparkcraft-local-k8s
PAUSE_IMAGE=localhost/sparkcraft/pause:$PAUSE_TAG COREDNS_IMAGE=localhost/sparkcraft/coredns:$COREDNS_VERSION
REGISTRY_STATE=${LOCAL_REGISTRY_STATE:-$SPARKCRAFT_CACHE/local-registry}
# Sysctls the node changes (ip_forward; the kubelet's kernel tunables): saved at start, put back at stop.
# (route_localnet: kube-proxy's localhost node ports; bridge-nf-call-iptables: Services from pods on the bridge.)
SYSCTLS=(net.ipv4.ip_forward vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes
  net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables)
bin="$SPARKCRAFT_CACHE/bin" images="$SPARKCRAFT_CACHE/k8s-images"
APISERVER="$bin/kube-apiserver-$K8S_VERSION" KUBECTL="$bin/kubectl-$K8S_VERSION" ETCD="$bin/etcd-$K8S_VERSION"
KUBELET="$bin/kubelet-$K8S_VERSION" KUBE_PROXY="$bin/kube-proxy-$K8S_VERSION"
SCHEDULER="$bin/kube-scheduler-$K8S_VERSION" CONTROLLER_MANAGER="$bin/kube-controller-manager-$K8S_VERSION"
CTRD="$DIR/containerd" SOCK="$DIR/containerd/containerd.sock"
NODE_PROCS=(kubelet kube-proxy scheduler controller-manager containerd)
. "$SPARKCRAFT_ROOT/scripts/k8s/config.sh" # the generated configuration: cfg_* (golden files per minor)

# --- processes (scripts/daemon.sh: pid files "PID ARGV0", launch, stop) --------------------------
alive() { daemon_alive "$DIR/$1.pid"; } # NAME
argv0_of() { daemon_argv0 "$1"; }
# launch NAME BINARY ARGS...: a daemon in its own session, logging to $DIR/NAME.log (LAUNCH_CWD: its folder).
launch() {
  local name=$1; shift
  # A start killed between starting a daemon and writing its pid file left it running: end it.
  local f
  # (every thread's command line: one whose main thread has exited still holds the daemon's ports)
  for f in $(grep -lzF -- "$DIR/" /proc/[0-9]*/task/[0-9]*/cmdline 2>/dev/null || true); do
    argv0_of "$f" || continue
    [ "$ARGV0" = "$1" ] && { f=${f#/proc/}; kill -9 "${f%%/*}" 2>/dev/null || true; }
  done
  DAEMON_CWD=${LAUNCH_CWD:-.} daemon_launch "$DIR/$name.pid" "$DIR/$name.log" "$@"
}
# halt NAME: TERM, then KILL after 5 s; one that outlives SIGKILL (a D state) is named, and stop goes on.
halt() { daemon_stop "$DIR/$1.pid" || say "warning: $1 (pid $(cut -d' ' -f1 "$DIR/$1.pid")) outlived SIGKILL"; }
# serving: the apiserver answers (its post-start hooks, RBAC's bootstrap among them, may still run).
serving() { curl -fsS --max-time 2 --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" "https://127.0.0.1:$API_PORT/version" >/dev/null 2>&1; }
ready() { curl -fsS --max-time 2 --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" "https://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1; }
kc() { "$KUBECTL" --kubeconfig "$DIR/admin.kubeconfig" "$@"; }
ctr_() { ctr --address "$SOCK" --namespace k8s.io "$@"; }
# put FILE: stdin becomes FILE atomically, and only when it changed (kube-proxy exits when its
# config is rewritten; containerd reloads the CNI config on every write). Returns 1 when unchanged.
put() {
  local f=$1; cat > "$f.tmp"
  if [ -f "$f" ] && cmp -s "$f.tmp" "$f"; then rm -f "$f.tmp"; return 1; fi
  mv "$f.tmp" "$f"
}
# log_errors NAME N: the last N error lines of a daemon's log (klog's E/F lines, or level=error/fatal ones).
log_errors() { grep -E '^[EF][0-9]{4} |level=(error|fatal)|"level":"(error|fatal)"' "$DIR/$1.log" 2>/dev/null | tail -"$2" || true; }
log_tail() { daemon_log_tail "$DIR/$1.log"; } # NAME: its last error lines, else its last lines
# phase NAME: NAME and the seconds since this start began, one line in $DIR/start.phases (the bench
# prints them: where a start's time goes).
phase() { local d=$(( (${EPOCHREALTIME/./} - LOCAL_K8S_T0) / 10000 )); printf '%d.%02d %s\n' $((d / 100)) $((d % 100)) "$1" >> "$DIR/start.phases" 2>/dev/null || true; }
wait_for() { # SECONDS WHAT COMMAND...
  local n=$(( $1 * 4 )) what=$2; shift 2
  for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.25; done
  return 1
}

# --- certificates -------------------------------------------------------------------------------
PKI_VERSION=2 # 2: the node's certificates; the apiserver's names the node IP
pki() {
  local p="$DIR/pki"
  [ "$(cat "$p/.complete" 2>/dev/null)" = "$PKI_VERSION" ] && return 0
  rm -rf "$p"; mkdir -p "$p"; chmod 700 "$p"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=sparkcraft-local-ca" -keyout "$p/ca.key" -out "$p/ca.crt" 2>/dev/null
  cert() { # name subject [san]
    openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$p/$1.key" -out "$p/$1.csr" 2>/dev/null
    local ext="$p/$1.ext"; : > "$ext"
    [ -n "${3:-}" ] && printf 'subjectAltName=%s\n' "$3" > "$ext"
    openssl x509 -req -in "$p/$1.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial -days 3650 -extfile "$ext" -out "$p/$1.crt" 2>/dev/null
  }
  cert apiserver "/CN=kube-apiserver" "IP:127.0.0.1,IP:$NODE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1"
  cert admin "/O=system:masters/CN=admin"
  cert restricted "/CN=restricted"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
  cert kubelet-serving "/CN=$NODE_NAME" "IP:$NODE_IP,DNS:$NODE_NAME"
  cert kube-proxy "/CN=system:kube-proxy"
  cert controller-manager "/CN=system:kube-controller-manager"
  cert scheduler "/CN=system:kube-scheduler"
  openssl genrsa -out "$p/sa.key" 2048 2>/dev/null
  openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub" 2>/dev/null
  echo "$PKI_VERSION" > "$p/.complete"
}

kubeconfig() { # file user [namespace]
  cfg_kubeconfig "$2" "${3:-}" | put "$1" || true
  chmod 600 "$1"
}

# --- control plane ------------------------------------------------------------------------------
control_plane() {
  if ! alive etcd; then
    say "starting etcd on $ETCD_SOCK"
    rm -f "$ETCD_SOCK" "$DIR/etcd-peer.sock:0" # a killed etcd's sockets: bind would fail on them
    local args; mapfile -t args < <(cfg_args etcd)
    LAUNCH_CWD=$DIR launch etcd "$ETCD" "${args[@]}"
  fi
  # The apiserver starts beside etcd, not after it: it connects once etcd listens (its readyz waits for that).
  if ! alive apiserver; then
    say "starting kube-apiserver $K8S_VERSION on https://127.0.0.1:$API_PORT"
    local args; mapfile -t args < <(cfg_args apiserver)
    launch apiserver "$APISERVER" "${args[@]}"
  fi
  etcd_ok() { curl -fsS --max-time 1 --unix-socket "$ETCD_SOCK" http://localhost/health >/dev/null 2>&1; }
  wait_for 20 etcd etcd_ok || { log_tail etcd; die "etcd did not become healthy (log: $DIR/etcd.log)"; }
  phase "etcd healthy"
  kubeconfig "$DIR/admin.kubeconfig" admin
  kubeconfig "$DIR/restricted.kubeconfig" restricted "$RESTRICTED_NS"
}
# api_wait CHECK WHAT: until CHECK passes (60 s at most) or the apiserver exits; else die.
api_wait() {
  local rc
  api_ok() { "$1" || { alive apiserver || return 2; return 1; }; }
  for _ in $(seq 1 240); do rc=0; api_ok "$1" || rc=$?; case $rc in 0|2) break ;; esac; sleep 0.25; done
  "$1" || { log_tail apiserver; die "kube-apiserver did not become $2 (log: $DIR/apiserver.log)"; }
  phase "apiserver $2"
}
# ssa PATH: the manifest on stdin applied server-side at PATH (created, or updated to it; the fields it
# sets are ours, force=true). curl, not kubectl apply: kubectl's start, discovery and OpenAPI download took
# 1.5-3 s of a start on 2 cores, a request takes milliseconds.
ssa() {
  local code
  code=$(curl -sS --max-time 20 --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" \
    -X PATCH -H 'Content-Type: application/apply-patch+yaml' --data-binary @- -o "$DIR/apply.out" -w '%{http_code}' \
    "https://127.0.0.1:$API_PORT$1?fieldManager=sparkcraft-local-k8s&force=true") || code="000 (curl failed)"
  case $code in 200|201) return 0 ;; esac
  printf 'apply %s: HTTP %s\n' "$1" "$code" >&2; cat "$DIR/apply.out" >&2 2>/dev/null || true; echo >&2
  return 1
}
# apply NAME...: each object of config.sh at its path (server-side apply); 1 at the first that fails.
apply() {
  local n
  for n in "$@"; do cfg_object "$n" | ssa "$(cfg_object_path "$n")" || return 1; done
}
# The restricted user: one namespace, ServiceAccounts and Secrets yes, Roles/RoleBindings no.
restricted_apply() { apply "${RESTRICTED_OBJECTS[@]}"; }

# --- the node's network -------------------------------------------------------------------------
ensure_rule() { # iptables|ip6tables TABLE CHAIN RULE...: append unless present
  local x=$1 t=$2 c=$3; shift 3
  "$x" -w 5 -t "$t" -C "$c" "$@" 2>/dev/null || "$x" -w 5 -t "$t" -A "$c" "$@"
}
# KUBE-* chains are fixed names that kube-proxy and the kubelet make: the ones there before our
# node first started belong to someone else (another node, or what it left) and are never touched.
kube_chains() { # every KUBE-* chain as "TOOL TABLE CHAIN"
  local t c
  for t in iptables ip6tables; do
    command -v "$t" >/dev/null || continue
    for c in filter nat mangle raw; do
      "$t" -w 5 -t "$c" -S 2>/dev/null | sed -n "s/^-N \(KUBE-[^ ]*\)\$/$t $c \1/p" || true
    done
  done
}
network_up() {
  mkdir -p "$DIR/net"
  # Only when our node is not up yet (node.on): a node an earlier version started has its own chains
  # by now, which are not someone else's (without a record, stop flushes every KUBE-* chain as before).
  if [ ! -f "$DIR/net/chains.before" ] && [ ! -f "$DIR/node.on" ]; then
    kube_chains > "$DIR/net/chains.tmp"
    mv "$DIR/net/chains.tmp" "$DIR/net/chains.before"
  fi
  if [ ! -f "$DIR/net/sysctl.saved" ]; then
    local k v; : > "$DIR/net/sysctl.tmp"
    for k in "${SYSCTLS[@]}"; do v=$(sysctl -n "$k" 2>/dev/null) && echo "$k=$v" >> "$DIR/net/sysctl.tmp"; done
    mv "$DIR/net/sysctl.tmp" "$DIR/net/sysctl.saved"
  fi
  if [ "$MINOR" -lt 29 ] && [ ! -f "$DIR/net/pod-logs.before" ]; then
    { [ -d /var/log/pods ] && ls -A /var/log/pods || echo "#absent"; } > "$DIR/net/pod-logs.tmp"
    mv "$DIR/net/pod-logs.tmp" "$DIR/net/pod-logs.before"
  fi
  touch "$DIR/node.on"
  sysctl -qw net.ipv4.ip_forward=1
  # (no `| grep -q`: with pipefail, grep leaving early fails the pipeline)
  [[ "$(ip addr show dev lo)" == *" $NODE_IP/32 "* ]] || ip addr add "$NODE_IP/32" dev lo
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  [[ "$(ip addr show dev "$BRIDGE")" == *" $POD_GW/24 "* ]] || ip addr add "$POD_GW/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # Service addresses route to the bridge: before kube-proxy has written its rules (or after it
  # is gone) a packet to a Service goes nowhere instead of out of the machine's default route.
  ip route replace "$SVC_CIDR" dev "$BRIDGE" src "$NODE_IP"
  # Pod traffic leaves only through the bridge (to pods) or to this machine: nothing is routed out.
  ensure_rule iptables mangle FORWARD -s "$POD_CIDR" ! -o "$BRIDGE" -m comment --comment "$MARK" -j DROP
  ensure_rule iptables mangle FORWARD -d "$POD_CIDR" ! -o "$BRIDGE" -m comment --comment "$MARK" -j DROP
  # The API port listens on every address (pods reach it at the node address): only loopback,
  # the node address and pods may connect.
  ensure_rule iptables filter INPUT -p tcp --dport "$API_PORT" ! -s "$POD_CIDR" ! -i lo -m comment --comment "$MARK" -j DROP
  ensure_rule iptables filter INPUT -p tcp --dport 10250 ! -i lo ! -s "$POD_CIDR" -m comment --comment "$MARK" -j DROP
  ensure_rule ip6tables filter INPUT -p tcp --dport "$API_PORT" ! -i lo -m comment --comment "$MARK" -j DROP
}

network_down() {
  # Ours: rules with our comment, and the KUBE-* chains that were not there before our node first
  # started (with the rules jumping to them); a chain someone else made stays, and so do its rules.
  local before="$DIR/net/chains.before" t c ch ours
  # No record: a node started by an earlier version of this script, which flushed every KUBE-* chain.
  if [ -f "$before" ]; then ours=$(kube_chains | grep -vxF -f "$before" || true); else ours=$(kube_chains); fi
  for t in iptables ip6tables; do
    command -v "$t" >/dev/null || continue
    for c in filter nat mangle raw; do
      local mine; mine=$(awk -v t="$t" -v c="$c" '$1 == t && $2 == c { print $3 }' <<<"$ours")
      "$t" -w 5 -t "$c" -S 2>/dev/null | while IFS= read -r rule; do
        case "$rule" in -A\ *) ;; *) continue ;; esac
        local target; target=$(sed -n 's/.* -j \([^ ]*\).*/\1/p' <<<"$rule")
        if [[ "$rule" == *"--comment $MARK"* || "$rule" == *"--comment \"$MARK\""* ]] || { [ -n "$target" ] && grep -qxF -- "$target" <<<"$mine"; }; then
          # A rule inside a chain of ours goes with the chain; the others are deleted one by one.
          grep -qxF -- "$(awk '{ print $2 }' <<<"$rule")" <<<"$mine" && continue
          eval "\"$t\" -w 5 -t $c -D ${rule#-A }" 2>/dev/null || true
        fi
      done || true
      for ch in $mine; do "$t" -w 5 -t "$c" -F "$ch" 2>/dev/null || true; done
      for ch in $mine; do "$t" -w 5 -t "$c" -X "$ch" 2>/dev/null || true; done
    done
  done
  rm -f "$before"
  ip link del "$BRIDGE" 2>/dev/null || true
  ip addr del "$NODE_IP/32" dev lo 2>/dev/null || true
  if [ -f "$DIR/net/sysctl.saved" ]; then
    while IFS== read -r k v; do [ -n "$k" ] && sysctl -qw "$k=$v" 2>/dev/null || true; done < "$DIR/net/sysctl.saved"
    rm -f "$DIR/net/sysctl.saved"
  fi
  rm -f /var/lib/cni/results/"$CNI_NET"-* 2>/dev/null || true
}

# --- the node -----------------------------------------------------------------------------------
containerd_config() {
  mkdir -p "$CTRD/certs.d" "$DIR/cni/net.d" "$DIR/cni/ipam"
  local reg="" password=""
  if [ -s "$REGISTRY_STATE/port" ] && [ -s "$REGISTRY_STATE/certs/ca.crt" ]; then
    reg="127.0.0.1:$(cat "$REGISTRY_STATE/port")"
    mkdir -p "$CTRD/certs.d/$reg"
    cfg_registry_hosts "$reg" | put "$CTRD/certs.d/$reg/hosts.toml" || true
    [ -s "$REGISTRY_STATE/password" ] && password=$(cat "$REGISTRY_STATE/password")
  fi
  cfg_containerd "$reg" "$password" | (umask 077; put "$CTRD/config.toml")
}

cni_config() { cfg_cni | put "$DIR/cni/net.d/10-$CNI_NET.conflist" || true; }

node_configs() {
  mkdir -p "$DIR/kubelet" "$DIR/pod-logs"
  kubeconfig "$DIR/kubelet.kubeconfig" kubelet
  kubeconfig "$DIR/kube-proxy.kubeconfig" kube-proxy
  kubeconfig "$DIR/controller-manager.kubeconfig" controller-manager
  kubeconfig "$DIR/scheduler.kubeconfig" scheduler
  cfg_resolv | put "$DIR/kubelet/resolv.conf" || true
  cfg_kubelet | put "$DIR/kubelet/config.yaml" || true
  cfg_kube_proxy | put "$DIR/kube-proxy.yaml" || true
}

import_images() {
  local have; have=$(ctr_ images ls -q 2>/dev/null)
  local ref name file
  for ref in "$PAUSE_IMAGE=pause-$PAUSE_TAG.tar" "$COREDNS_IMAGE=coredns-$COREDNS_VERSION.tar"; do
    name=${ref%%=*} file=$images/${ref#*=}
    grep -qxF "$name" <<<"$have" && continue
    ctr_ images import --base-name "${name%:*}" "$file" >/dev/null || die "importing $file into containerd failed"
    ctr_ images label "$name" io.cri-containerd.pinned=pinned >/dev/null 2>&1 || true
  done
}

coredns_apply() { apply "${COREDNS_OBJECTS[@]}"; }

# dns_ok: CoreDNS answers kubernetes.default.svc.cluster.local with the API's Service address.
dns_ok() {
  python3 - "$DNS_IP" <<'PY' 2>/dev/null
import socket, struct, sys
q = struct.pack(">HHHHHH", 0x5ca1, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in "kubernetes.default.svc.cluster.local".split(".")) + b"\0"
q += struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)
s.sendto(q, (sys.argv[1], 53))
r = s.recv(512)
sys.exit(0 if r[:2] == q[:2] and (r[3] & 0xF) == 0 and struct.unpack(">H", r[6:8])[0] > 0 and socket.inet_aton("10.96.0.1") in r else 1)
PY
}
# node_ready: the node's Ready condition is True; when this start launched the kubelet, posted by that
# kubelet (after a stop, etcd still holds the last kubelet's Ready, True until the controller-manager's
# 40 s grace ends; a kubelet posts its status at once when it starts, later only when it changes).
node_ready() {
  local r; r=$(kc get node "$NODE_NAME" -o 'jsonpath={range .status.conditions[?(@.type=="Ready")]}{.status} {.lastHeartbeatTime}{end}' 2>/dev/null) || return 1
  [ "${r%% *}" = True ] || return 1
  [ -z "${KUBELET_EPOCH:-}" ] && return 0
  local beat; beat=$(date -d "${r#* }" +%s 2>/dev/null) || return 1
  [ "$beat" -ge "$KUBELET_EPOCH" ]
}
# cri_ok: the CRI's RuntimeService answers Version (gRPC over the socket, an empty request; the
# status is in the HTTP/2 trailers, which curl writes with the headers).
cri_ok() {
  printf '\0\0\0\0\0' | curl -sS --max-time 2 --http2-prior-knowledge --unix-socket "$SOCK" -X POST \
    -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @- -D - -o /dev/null \
    http://localhost/runtime.v1.RuntimeService/Version 2>/dev/null | tr -d '\r' | grep -x 'grpc-status: 0' >/dev/null
}
kubelet_launch() {
  KUBELET_STARTED=$SECONDS KUBELET_EPOCH=${EPOCHSECONDS}
  local args; mapfile -t args < <(cfg_args kubelet)
  launch kubelet "$KUBELET" "${args[@]}"
}
# kubelet_kept CMD...: a kubelet that exited is started again (as systemd's Restart= would: at least
# 2 s after its last start, up to 3 times in one start; its last error is said), else CMD is tried.
# (The node's Ready condition may still be an earlier kubelet's, so the kubelet is looked at first.)
kubelet_kept() {
  if ! alive kubelet; then
    [ "$KUBELET_RESTARTS" -lt 3 ] && [ $((SECONDS - KUBELET_STARTED)) -ge 2 ] || return 1
    KUBELET_RESTARTS=$((KUBELET_RESTARTS + 1))
    say "kubelet exited ($(log_errors kubelet 1 | cut -c1-300)); starting it again"
    kubelet_launch
    return 1
  fi
  "$@"
}

# applied: the manifests' server-side apply (start's, in the background) has ended well.
applied() {
  [ -n "${APPLY_PID:-}" ] || return 0
  wait "$APPLY_PID" || { cat "$DIR/apply.log" >&2; die "applying the cluster's manifests failed (log: $DIR/apply.log)"; }
  APPLY_PID=""
  phase "manifests applied"
}
# node_prep: the node's configuration and containerd, which needs neither etcd nor the apiserver: it
# starts while they do (node_up waits for it).
node_prep() {
  local changed=0
  containerd_config && changed=1
  cni_config
  node_configs
  if alive containerd && [ "$changed" = 1 ]; then halt containerd; fi # its config changed (the registry's)
  if ! alive containerd; then
    say "starting containerd"
    mkdir -p "$CTRD"
    # Every registry but loopback ones (the local registry) is reached through a proxy at a closed
    # loopback port: a pull of, say, docker.io/busybox fails at once, without even a DNS lookup.
    # (containerd 1.6 has no catch-all hosts.toml; its CRI client honours the proxy variables.)
    HTTPS_PROXY=http://127.0.0.1:1 HTTP_PROXY=http://127.0.0.1:1 NO_PROXY=127.0.0.1,localhost \
      launch containerd containerd --config "$CTRD/config.toml"
  fi
}
node_up() {
  ctrd_ok() { ctr_ version >/dev/null 2>&1; }
  wait_for 20 containerd ctrd_ok || { log_tail containerd; die "containerd did not start (log: $DIR/containerd.log)"; }
  phase "containerd answering"
  # containerd answers its own API before its CRI service is initialized; a kubelet started then
  # exits at once ("server is not initialized yet"). Seen on a fresh CI machine.
  wait_for 60 "containerd's CRI" cri_ok || { log_tail containerd; die "containerd's CRI service did not become ready (log: $DIR/containerd.log)"; }
  phase "CRI answering"
  import_images
  phase "images imported"
  node_daemons
}
node_daemons() {
  local args
  if ! alive controller-manager; then
    mapfile -t args < <(cfg_args controller-manager)
    launch controller-manager "$CONTROLLER_MANAGER" "${args[@]}"
  fi
  if ! alive scheduler; then
    mapfile -t args < <(cfg_args scheduler)
    launch scheduler "$SCHEDULER" "${args[@]}"
  fi
  if ! alive kube-proxy; then
    mapfile -t args < <(cfg_args kube-proxy)
    launch kube-proxy "$KUBE_PROXY" "${args[@]}"
  fi
  if ! alive kubelet; then
    say "starting kubelet ($NODE_NAME, $NODE_IP)"
    kubelet_launch
  fi
  phase "kubelet launched"
}
node_wait() {
  KUBELET_RESTARTS=0 KUBELET_STARTED=${KUBELET_STARTED:-0}
  wait_for 60 node kubelet_kept node_ready || { log_tail kubelet; die "node $NODE_NAME did not become Ready (log: $DIR/kubelet.log)"; }
  phase "node Ready"
  applied # (a first start: CoreDNS's Deployment may still be on its way in)
  wait_for 60 dns kubelet_kept dns_ok || { kc -n kube-system get pods -o wide >&2 || true; die "CoreDNS did not answer on $DNS_IP (kubectl -n kube-system describe pod -l k8s-app=kube-dns)"; }
  phase "DNS answering"
}

# --- S3 for the pods ----------------------------------------------------------------------------
# The S3 server runs with the node: loopback for the host, the node address for pods, nothing else
# (local-s3.sh refuses 0.0.0.0 and the outside interface). $DIR/s3.on names its state directory, so
# stop finds it whatever the environment says then.
s3_up() {
  # Without LOCAL_S3_DIR: the default S3 for the default instance, else one inside the instance's
  # directory (so that a second instance never stops the default one's S3; its port must differ).
  local s3dir=$LOCAL_S3_DIR
  if [ -z "$s3dir" ]; then
    if [ "$DIR" = "$SPARKCRAFT_CACHE/local-k8s" ]; then s3dir=$SPARKCRAFT_CACHE/local-s3; else s3dir=$DIR/s3; fi
  fi
  printf '%s %s\n' "$s3dir" "$S3_PORT" > "$DIR/s3.on"
  LOCAL_S3_DIR=$s3dir LOCAL_S3_PORT=$S3_PORT LOCAL_S3_BIND=$NODE_IP bash "$SPARKCRAFT_ROOT/scripts/local-s3.sh" start >/dev/null
  # Only loopback and pods may reach it on the node address (as for the API port): the S3 port and
  # the gateway's gRPC port (PORT+10004), which weed binds to the same address, and its HTTPS port (PORT+4).
  ensure_rule iptables filter INPUT -p tcp --dport "$S3_PORT" -d "$NODE_IP" ! -i lo ! -s "$POD_CIDR" -m comment --comment "$MARK" -j DROP
  ensure_rule iptables filter INPUT -p tcp --dport "$((S3_PORT + 10004))" -d "$NODE_IP" ! -i lo ! -s "$POD_CIDR" -m comment --comment "$MARK" -j DROP
  ensure_rule iptables filter INPUT -p tcp --dport "$((S3_PORT + 4))" -d "$NODE_IP" ! -i lo ! -s "$POD_CIDR" -m comment --comment "$MARK" -j DROP
  LOCAL_S3_DIR=$s3dir LOCAL_S3_PORT=$S3_PORT bash "$SPARKCRAFT_ROOT/scripts/local-s3.sh" env > "$DIR/s3.env.tmp"
  mv "$DIR/s3.env.tmp" "$DIR/s3.env"
  phase "S3 answering"
}
s3_down() {
  [ -f "$DIR/s3.on" ] || return 0
  local s3dir port; read -r s3dir port < "$DIR/s3.on"
  LOCAL_S3_DIR=$s3dir LOCAL_S3_PORT=$port bash "$SPARKCRAFT_ROOT/scripts/local-s3.sh" stop
  rm -f "$DIR/s3.on" "$DIR/s3.env"
}
# s3_json: the S3 server as cluster.json's "s3" value (null without one).
s3_json() {
  [ -s "$DIR/s3.env" ] || { echo null; return 0; }
  ( . "$DIR/s3.env"
    printf '{\n    "endpoint": "%s",\n    "podEndpoint": "%s",\n    "tlsEndpoint": "%s",\n    "caFile": "%s",\n    "region": "%s",\n    "accessKey": "%s",\n    "secretKeyFile": "%s"\n  }\n' \
      "$LOCAL_S3_ENDPOINT" "${LOCAL_S3_POD_ENDPOINT:-}" "${LOCAL_S3_TLS_ENDPOINT:-}" "${LOCAL_S3_CA_FILE:-}" "$LOCAL_S3_REGION" "$LOCAL_S3_ACCESS_KEY" "$LOCAL_S3_SECRET_KEY_FILE" )
}

cluster_json() {
  put "$DIR/cluster.json" <<EOF || true
{
  "apiUrl": "https://127.0.0.1:$API_PORT",
  "k8sVersion": "$K8S_VERSION",
  "adminKubeconfig": "$DIR/admin.kubeconfig",
  "restrictedKubeconfig": "$DIR/restricted.kubeconfig",
  "restrictedNamespace": "$RESTRICTED_NS",
  "stateDir": "$DIR",
  "kubectlPath": "$KUBECTL",
  "s3": $(s3_json),
  "node": $( [ "$NODE" = 1 ] && cat <<NODE || echo null
{
    "name": "$NODE_NAME",
    "ip": "$NODE_IP",
    "podCidr": "$POD_CIDR",
    "serviceCidr": "$SVC_CIDR",
    "dnsIp": "$DNS_IP",
    "containerdSocket": "$SOCK",
    "ctrPath": "$(command -v ctr)"
  }
NODE
)
}
EOF
}

# --- another cluster on this machine --------------------------------------------------------
# Pids of our daemons (their pid files), one per line.
our_pids() { local f; for f in "$DIR"/*.pid; do [ -f "$f" ] && awk '{ print $1 }' "$f"; done; }
# A Kubernetes node not ours in our network namespace (whose iptables it shares) (MicroK8s' kubelite, another kubelet or
# kube-proxy): the first one found, as "PID ARGV0". kind's nodes live in containers with namespaces of their own.
# (The first only, returned from here: `foreign_nodes | head -1` under pipefail exits 141 when head leaves
# before a second line is written, as it did on CI beside the suite's node, which has a kubelet and a kube-proxy.)
foreign_nodes() {
  local f pid argv0 host ours; host=$(readlink /proc/$$/ns/net); ours=$(our_pids)
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    # (read, not tr | head: no process per process, a scan of a few hundred takes milliseconds, not a second)
    argv0_of "$f" || continue; argv0=$ARGV0
    [[ "${argv0##*/}" =~ ^(kubelet|kube-proxy|kubelite)(-v[0-9.]+)?$ ]] || continue
    grep -qxF "$pid" <<<"$ours" && continue
    # Ours without a pid file (a start killed before writing it): its flags name this instance.
    grep -qzF -- "$DIR/" "$CMDLINE" 2>/dev/null && continue
    [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "$host" ] || continue
    echo "$pid $argv0"; return 0
  done
}
# The ports a node of ours listens on; the first listener on one that is not ours: "PORT PID NAME".
NODE_PORTS=(10250 10256 10249 10257 10259)
foreign_listeners() {
  local ours p line pid all; ours=$(our_pids)
  all=$(ss -Hltnp 2>/dev/null) || return 0 # one ss for all the ports
  for p in "$API_PORT" $( [ "$NODE" = 1 ] && echo "${NODE_PORTS[@]}" ); do
    line=$(awk -v p=":$p" 'substr($4, length($4) - length(p) + 1) == p { print; exit }' <<<"$all")
    [ -n "$line" ] || continue
    pid=$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' <<<"$line" | head -1)
    [ -n "$pid" ] && grep -qxF "$pid" <<<"$ours" && continue
    echo "$p ${pid:-?} $(sed -n 's/.*users:(("\([^"]*\)".*/\1/p' <<<"$line")"; return 0
  done
}
# Refuse, in one line naming it, to start beside another node: its kube-proxy and ours would share
# the fixed KUBE-* chains, and its pods and ours the /kubepods cgroup.
preflight() {
  local x
  if [ "$NODE" = 1 ] && ! alive kubelet; then
    x=$(foreign_nodes)
    [ -z "$x" ] || die "another Kubernetes node runs on this machine (pid ${x%% *}: ${x#* }): stop it first, or start an API-only instance (LOCAL_K8S_NODE=0)"
    if [ ! -f "$DIR/node.on" ]; then
      x=$(grep -l -E ':/kubepods(/|$)' /proc/[0-9]*/cgroup 2>/dev/null | head -1 | cut -d/ -f3 || true)
      [ -z "$x" ] || die "the /kubepods cgroup holds processes of another node (pid $x: $(tr '\0' ' ' < "/proc/$x/cmdline" 2>/dev/null | cut -c1-80)): stop that node first, or start an API-only instance (LOCAL_K8S_NODE=0)"
    fi
  fi
  x=$(foreign_listeners)
  # A listener no process is named for (ss reads /proc/PID/fd, gone with the main thread) is mostly a
  # program exiting, its last threads still holding the port: it gets 10 s to let go.
  for _ in $(seq 1 50); do [ "$(cut -d' ' -f2 <<<"$x")" = "?" ] || break; sleep 0.2; x=$(foreign_listeners); done
  [ -z "$x" ] || { set -- $x; die "port $1 is taken by ${3:-a process} (pid $2), not by this instance: stop it, or choose another port (LOCAL_K8S_API_PORT)"; }
  # One Kubernetes version per instance: its etcd data and certificates are that version's.
  if [ -d "$DIR/etcd" ] && [ -f "$DIR/k8s-version" ] && [ "$(cat "$DIR/k8s-version")" != "$K8S_VERSION" ]; then
    die "this instance ($DIR) is Kubernetes $(cat "$DIR/k8s-version"), not $K8S_VERSION: run 'K8S_VERSION=$K8S_VERSION scripts/local-k8s.sh reset' (an empty cluster), or choose another LOCAL_K8S_DIR"
  fi
  echo "$K8S_VERSION" > "$DIR/k8s-version"
}

start() {
  mkdir -p "$DIR"; chmod 700 "$DIR" # etcd's sockets, the PKI and the kubeconfigs are root's alone
  rm -f "$DIR/start.phases"; phase begin
  preflight # before anything is fetched or built for a version this instance will refuse
  phase preflight
  local need=("$APISERVER" "$KUBECTL" "$ETCD") f
  [ "$NODE" = 1 ] && need+=("$KUBELET" "$KUBE_PROXY" "$SCHEDULER" "$CONTROLLER_MANAGER")
  for f in "${need[@]}"; do [ -x "$f" ] || { bash "$SPARKCRAFT_ROOT/scripts/setup.d/20-k8s.sh"; break; }; done
  if [ "$NODE" = 1 ]; then
    command -v containerd >/dev/null && [ -s "$images/pause-$PAUSE_TAG.tar" ] && [ -s "$images/coredns-$COREDNS_VERSION.tar" ] \
      || bash "$SPARKCRAFT_ROOT/scripts/setup.d/25-k8s-node.sh"
  fi
  mkdir -p "$DIR"
  # The apiserver's flags differ between an API-only instance and a node's: switching restarts it.
  if [ "$(cat "$DIR/mode" 2>/dev/null)" != "$NODE" ]; then stop_all; echo "$NODE" > "$DIR/mode"; fi
  # New certificates (a first start, or a start killed while making them): nothing may run on old ones.
  [ "$(cat "$DIR/pki/.complete" 2>/dev/null)" = "$PKI_VERSION" ] || stop_all
  pki
  phase "binaries, pki"
  [ "$NODE" = 1 ] && network_up
  phase "network up"
  # S3 starts meanwhile (it needs only the node address): a few seconds, more on a loaded machine.
  local s3pid=""
  if [ "$NODE" = 1 ] && [ "$WITH_S3" = 1 ]; then
    s3_up > "$DIR/s3-start.log" 2>&1 &
    s3pid=$!
  else
    rm -f "$DIR/s3.env"
  fi
  # containerd too (node_up waits for it): it needs neither etcd nor the apiserver.
  [ "$NODE" = 1 ] && node_prep
  phase "containerd launched"
  # Once etcd holds the node's objects and RBAC's roles (not a first start), the node's daemons start
  # as soon as the apiserver answers, while its post-start hooks run (1-2 s here).
  local early=0; [ -d "$DIR/etcd/member" ] && early=1
  control_plane
  if [ "$NODE" = 1 ] && [ "$early" = 1 ]; then api_wait serving serving; node_up; fi
  api_wait ready ready
  # The manifests (the restricted user's; the node's CoreDNS) go in while the node starts: after a stop
  # they are there already, and on a first start the Deployment's pod waits for the node anyway.
  { restricted_apply && if [ "$NODE" = 1 ]; then coredns_apply; fi; } > "$DIR/apply.log" 2>&1 &
  APPLY_PID=$!
  if [ "$NODE" = 1 ]; then [ "$early" = 1 ] || node_up; node_wait; fi
  applied
  if [ -n "$s3pid" ]; then
    wait "$s3pid" || { tail -n 20 "$DIR/s3-start.log" >&2; die "the S3 server did not start (log: $DIR/s3-start.log)"; }
  fi
  phase "S3 waited for"
  cluster_json
  phase done
  say "local Kubernetes ready$( [ "$NODE" = 1 ] && echo ", node $NODE_NAME Ready, DNS answering")$( [ -s "$DIR/s3.env" ] && echo ", S3 on 127.0.0.1 and $NODE_IP:$S3_PORT") (kubeconfig: $DIR/admin.kubeconfig)"
}

# --- stop ---------------------------------------------------------------------------------------
# Pods' processes: everything in the kubelet's cgroups, and the shims of our containerd.
kill_pods() {
  local pids=""
  # /kubepods is ours only while no other node runs (start refuses to begin beside one; stop_all looks).
  [ -n "${FOREIGN_NODE:-}" ] || pids=$(grep -l -E ':/kubepods(/|$)' /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3 || true)
  local f cmd
  for f in $(grep -lzF -- "$SOCK" /proc/[0-9]*/cmdline 2>/dev/null || true); do
    { cmd=$(tr '\0' ' ' < "$f"); } 2>/dev/null || continue
    [[ "$cmd" == *" -address $SOCK "* ]] && pids+=" $(basename "$(dirname "$f")")"
  done
  [ -n "${pids// /}" ] || return 0
  kill -9 $pids 2>/dev/null || true
  # A killed process keeps its network namespace until its exit is done (memory is freed first): wait
  # (at most 10 s) so that unmount_ours does not take a dying pod's namespace for someone else's.
  # (Measured: a 1.5 GB process kept /proc/PID/ns/net for about 100 reads after kill -9. The CI failure
  # first blamed on this was hidden mounts under a /run/netns bind: see unmount_ours.)
  local p st left
  for _ in $(seq 1 100); do
    left=""
    for p in $pids; do
      { read -r st < "/proc/$p/stat"; } 2>/dev/null || continue
      st=${st##*) } # after the command's name, which may hold spaces and parentheses
      [ "${st%% *}" = Z ] || left+=" $p"
    done
    [ -z "$left" ] && return 0
    sleep 0.1
  done
  say "kill_pods: still exiting after 10 s:$left"
}
unmount_ours() {
  # Innermost first; whatever lives under the instance's directory, and the pods' network namespaces.
  local m
  for _ in 1 2 3; do
    m=$(awk -v d="$DIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
    [ -z "$m" ] && break
    for x in $m; do umount "$x" 2>/dev/null || umount -l "$x" 2>/dev/null || true; done
  done
  # containerd names its pods' namespaces /run/netns/cni-*; ours are no longer held by a process
  # (a namespace some process is in belongs to someone else). mountinfo's root field of an nsfs mount
  # names its namespace (net:[inode]): a path's stat would name the file under it, or another mount's.
  local held; held=$(find /proc/[0-9]*/ns/net -maxdepth 0 -printf '%l\n' 2>/dev/null | sort -u || true)
  local pass x ns netns_id
  for pass in 1 2 3; do
    # A namespace file can be mounted more than once (mount propagation; seen after pods were killed):
    # every layer goes before the file, and a file still mounted is left, never an error.
    while read -r ns x; do
      [ -n "$x" ] || continue
      grep -qxF "$ns" <<<"$held" && continue
      for _ in 1 2 3 4; do umount "$x" 2>/dev/null || break; done
      awk -v m="$x" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo || rm -f "$x" 2>/dev/null || true
    done < <(awk '$5 ~ "^/(var/)?run/netns/cni-" { print $4, $5 }' /proc/self/mountinfo | sort -u -k2)
    # Left, not held: namespaces hidden under a later bind of /run/netns onto itself (containerd makes
    # one when /run/netns is not a mount point), whose path now reaches the bind's file, not them (seen:
    # two such mounts from an earlier day failed this machine's stop test and CI's). When that bind holds
    # no mount of its own it goes (containerd makes it again) and the next pass reaches them.
    awk '$5 ~ "^/(var/)?run/netns/cni-" { print $4 }' /proc/self/mountinfo | grep -qvxF -f <(printf '%s\n' "$held") || break
    [ "$pass" = 3 ] && break
    netns_id=$(awk '$5 == "/run/netns" { id = $1 } END { print id }' /proc/self/mountinfo)
    [ -n "$netns_id" ] || break
    awk -v p="$netns_id" '$2 == p { found = 1 } END { exit !found }' /proc/self/mountinfo && break
    umount /run/netns 2>/dev/null || break
  done
}
remove_cgroups() {
  local c
  [ -n "${FOREIGN_NODE:-}" ] && return 0 # its cgroups, not ours
  for c in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  find /var/log/containers -maxdepth 1 -type l -lname "$DIR/*" -delete 2>/dev/null || true
  # A kubelet without podLogsDir (before 1.29; K8S_VERSION) writes /var/log/pods/<ns>_<pod>_<uid>:
  # what was not there at the node's first start is ours (one node per machine), with its links.
  if [ -f "$DIR/net/pod-logs.before" ]; then
    local p
    for p in /var/log/pods/*; do
      [ -d "$p" ] && ! grep -qxF "$(basename "$p")" "$DIR/net/pod-logs.before" || continue
      find /var/log/containers -maxdepth 1 -type l -lname "$p/*" -delete 2>/dev/null || true
      rm -rf "$p"
    done
    [ "$(head -1 "$DIR/net/pod-logs.before")" = "#absent" ] && { rmdir /var/log/pods /var/log/containers 2>/dev/null || true; }
    rm -f "$DIR/net/pod-logs.before"
  fi
}
stop_all() {
  # Another node running now (one scan of /proc for kill_pods, twice, and remove_cgroups).
  FOREIGN_NODE=$(foreign_nodes)
  s3_down
  if [ -f "$DIR/node.on" ] || alive kubelet || alive containerd; then
    halt kubelet
    if alive containerd; then
      # Delete the pods' containers so the next start begins clean (images stay).
      local c
      for c in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$c" >/dev/null 2>&1 || true; done
    fi
    kill_pods
    if alive containerd; then
      sleep 0.3
      for c in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$c" >/dev/null 2>&1 || true; done
      for c in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$c" >/dev/null 2>&1 || true; done
    fi
    for p in kube-proxy scheduler controller-manager containerd; do halt "$p"; done
    kill_pods
    # The pods' addresses: their sandboxes went without a CNI DEL (containerd is gone), so host-local
    # would keep every one reserved and a start after 253 stops would find the /24 full.
    rm -rf "${DIR:?}/cni/ipam/$CNI_NET"
  fi
  halt apiserver; halt etcd
  if [ -f "$DIR/node.on" ]; then
    unmount_ours
    remove_cgroups
    network_down
    rm -f "$DIR/node.on"
  fi
}

case "${1:-}" in
  start) export LOCAL_K8S_T0=${EPOCHREALTIME/./}; with_lock local-k8s bash "$0" _start ;;
  _start) LOCAL_K8S_T0=${LOCAL_K8S_T0:-${EPOCHREALTIME/./}}; start ;;
  reset) export LOCAL_K8S_T0=${EPOCHREALTIME/./}; with_lock local-k8s bash "$0" _reset ;;
  _reset) LOCAL_K8S_T0=${LOCAL_K8S_T0:-${EPOCHREALTIME/./}}; stop_all; rm -rf "$DIR/etcd" "$DIR/kubelet/pods" "$DIR/cni/ipam" "$DIR/k8s-version"; start ;;
  stop) with_lock local-k8s bash "$0" _stop ;;
  _stop) stop_all; say "local Kubernetes stopped" ;;
  status)
    if alive apiserver && alive etcd && ready; then
      if [ "$(cat "$DIR/mode" 2>/dev/null)" = 1 ]; then
        for p in "${NODE_PROCS[@]}"; do alive "$p" || { echo "degraded: $p is not running (run start)"; exit 3; }; done
        node_ready || { echo "degraded: node $NODE_NAME not Ready"; exit 3; }
      fi
      echo "running https://127.0.0.1:$API_PORT"
    else echo "stopped"; exit 3; fi ;;
  env)
    cat <<EOF
export KUBECONFIG=$DIR/admin.kubeconfig
export KUBECONFIG_ADMIN=$DIR/admin.kubeconfig
export KUBECONFIG_RESTRICTED=$DIR/restricted.kubeconfig
export K8S_API_URL=https://127.0.0.1:$API_PORT
export RESTRICTED_NAMESPACE=$RESTRICTED_NS
export LOCAL_K8S_DIR=$DIR
export LOCAL_K8S_CLUSTER_JSON=$DIR/cluster.json
export KUBECTL=$KUBECTL
EOF
    if [ -s "$DIR/s3.env" ]; then cat "$DIR/s3.env"; fi
    ;;
  config) cfg_all ;; # the generated configuration of K8S_VERSION (nothing is written or started)
  *) die "usage: $0 start|reset|stop|status|env|config" ;;
esac
