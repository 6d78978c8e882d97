# shellcheck shell=bash
# The local node's generated configuration (sourced by scripts/local-k8s.sh after its settings): each cfg_
# function prints one file, one object or one daemon's arguments, and does nothing else. What differs
# between Kubernetes minors is decided here, from MINOR. `scripts/local-k8s.sh config` prints all of it;
# test/local-k8s-config.test.ts compares that with test/fixtures/local-k8s/1.N.txt for every minor the
# README lists (1.26 to 1.37), so a change to any of it shows as a diff of those files.

# cfg_kubeconfig USER [NAMESPACE]: a kubeconfig for USER's client certificate.
cfg_kubeconfig() {
  local u=$1 ns=${2:-}
  cat <<EOF
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
$( [ -n "$ns" ] && echo "    namespace: $ns" )
current-context: $u@local
EOF
}

# cfg_registry_hosts REGISTRY: containerd's hosts.toml for the local registry (TLS with our CA).
cfg_registry_hosts() {
  local reg=$1
  cat <<EOF
server = "https://$reg"
[host."https://$reg"]
  capabilities = ["pull", "resolve"]
  ca = "$REGISTRY_STATE/certs/ca.crt"
EOF
}

# cfg_containerd [REGISTRY PASSWORD]: containerd's config.toml; given the local registry's address and
# password, the CRI's credentials for it (the caller writes the file 0600).
cfg_containerd() {
  local reg=${1:-} password=${2:-} auth=""
  [ -n "$reg" ] && [ -n "$password" ] && auth="
  [plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"$reg\".auth]
    username = \"sparkcraft\"
    password = \"$password\""
  cat <<EOF
version = 2
root = "$CTRD/root"
state = "$CTRD/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$CTRD/containerd.ttrpc.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$CTRD/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # The CRI asks for oom_score_adj -998, which needs CAP_SYS_RESOURCE: without this every sandbox
  # fails with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  disable_apparmor = true
  tolerate_missing_hugetlb_controller = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$DIR/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$CTRD/certs.d"$auth
EOF
}

# cfg_cni: the bridge network (no masquerade; host-local addresses of the node's pod range).
cfg_cni() {
  cat <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NET",
  "plugins": [{
    "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": {"type": "host-local", "dataDir": "$DIR/cni/ipam", "ranges": [[{"subnet": "$NODE_POD_CIDR", "gateway": "$POD_GW"}]],
             "routes": [{"dst": "0.0.0.0/0"}]}
  }]
}
EOF
}

# cfg_resolv: the pods' resolv.conf (CoreDNS only).
cfg_resolv() {
  cat <<EOF
nameserver $DNS_IP
EOF
}

# cfg_kubelet: the kubelet's KubeletConfiguration.
cfg_kubelet() {
  cat <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $DIR/pki/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $DIR/pki/kubelet-serving.crt
tlsPrivateKeyFile: $DIR/pki/kubelet-serving.key
containerRuntimeEndpoint: unix://$SOCK
cgroupDriver: cgroupfs
clusterDomain: cluster.local
clusterDNS: [$DNS_IP]
resolvConf: $DIR/kubelet/resolv.conf
podLogsDir: $DIR/pod-logs
volumePluginDir: $DIR/kubelet/volume-plugins
failSwapOn: false
# The default 1000000 needs CAP_SYS_RESOURCE; -999 would too.
maxOpenFiles: 20000
oomScoreAdj: 0
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
$( [ "$MINOR" -ge 31 ] && echo "# This machine has cgroup v1 (hybrid); from 1.35 on the kubelet refuses it unless told.
failCgroupV1: false" )
EOF
}

# cfg_kube_proxy: kube-proxy's KubeProxyConfiguration.
cfg_kube_proxy() {
  cat <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $DIR/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [$NODE_IP/32]
oomScoreAdj: 0
# No conntrack sysctls are written.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s, udpTimeout: 0s, udpStreamTimeout: 0s}
EOF
}

# The objects start applies (server-side apply, at their paths): the restricted user's, then CoreDNS's (node only).
RESTRICTED_OBJECTS=(restricted-namespace restricted-role restricted-rolebinding)
COREDNS_OBJECTS=(coredns-serviceaccount coredns-clusterrole coredns-clusterrolebinding coredns-configmap coredns-deployment coredns-service)
# cfg_object_path NAME: the API path NAME is applied at.
cfg_object_path() {
  case $1 in
    restricted-namespace) echo "/api/v1/namespaces/$RESTRICTED_NS" ;;
    restricted-role) echo "/apis/rbac.authorization.k8s.io/v1/namespaces/$RESTRICTED_NS/roles/restricted-user" ;;
    restricted-rolebinding) echo "/apis/rbac.authorization.k8s.io/v1/namespaces/$RESTRICTED_NS/rolebindings/restricted-user" ;;
    coredns-serviceaccount) echo "/api/v1/namespaces/kube-system/serviceaccounts/coredns" ;;
    coredns-clusterrole) echo "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:coredns" ;;
    coredns-clusterrolebinding) echo "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:coredns" ;;
    coredns-configmap) echo "/api/v1/namespaces/kube-system/configmaps/coredns" ;;
    coredns-deployment) echo "/apis/apps/v1/namespaces/kube-system/deployments/coredns" ;;
    coredns-service) echo "/api/v1/namespaces/kube-system/services/kube-dns" ;;
    *) return 1 ;;
  esac
}
# cfg_object NAME: the object.
cfg_object() {
  case $1 in
    restricted-namespace) cat <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $RESTRICTED_NS}
EOF
      ;;
    restricted-role) cat <<EOF
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
EOF
      ;;
    restricted-rolebinding) cat <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: restricted-user, namespace: $RESTRICTED_NS}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: restricted-user}
subjects:
- {kind: User, name: restricted, apiGroup: rbac.authorization.k8s.io}
EOF
      ;;
    coredns-serviceaccount) cat <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
EOF
      ;;
    coredns-clusterrole) cat <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
EOF
      ;;
    coredns-clusterrolebinding) cat <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects:
- {kind: ServiceAccount, name: coredns, namespace: kube-system}
EOF
      ;;
    coredns-configmap) cat <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  # Cluster names only: no forward plugin, nothing is asked upstream.
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
        }
        cache 30
    }
EOF
      ;;
    coredns-deployment) cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      priorityClassName: system-cluster-critical
      dnsPolicy: Default
      tolerations: [{key: CriticalAddonsOnly, operator: Exists}, {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoSchedule}]
      containers:
      - name: coredns
        image: $COREDNS_IMAGE
        imagePullPolicy: Never
        args: [-conf, /etc/coredns/Corefile]
        ports: [{containerPort: 53, protocol: UDP, name: dns}, {containerPort: 53, protocol: TCP, name: dns-tcp}]
        resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {memory: 128Mi}}
        readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 1}
        volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes: [{name: config, configMap: {name: coredns}}]
EOF
      ;;
    coredns-service) cat <<EOF
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  selector: {k8s-app: kube-dns}
  clusterIP: $DNS_IP
  ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]
EOF
      ;;
    *) return 1 ;;
  esac
}

# cfg_args NAME: the arguments of daemon NAME (etcd, apiserver, controller-manager, scheduler, kube-proxy,
# kubelet), one per line; the apiserver's depend on NODE (1: a node's control plane; 0: API only).
cfg_args() {
  case $1 in
    etcd)
      printf '%s\n' --name local --data-dir "$DIR/etcd" \
        --listen-client-urls "$ETCD_CLIENT_URL" --advertise-client-urls "$ETCD_CLIENT_URL" \
        --listen-peer-urls "$ETCD_PEER_URL" --initial-advertise-peer-urls "$ETCD_PEER_URL" \
        --initial-cluster "local=$ETCD_PEER_URL" --quota-backend-bytes=1073741824 ;;
    apiserver)
      if [ "$NODE" = 1 ]; then
        # Pods reach the API at the node address (the kubernetes Service's endpoint); an INPUT rule
        # (network_up) keeps the port to loopback, the node address and the pods.
        printf '%s\n' --bind-address 0.0.0.0 --advertise-address "$NODE_IP" --authorization-mode Node,RBAC --allow-privileged=true \
          --kubelet-client-certificate "$DIR/pki/apiserver-kubelet-client.crt" --kubelet-client-key "$DIR/pki/apiserver-kubelet-client.key" \
          --kubelet-certificate-authority "$DIR/pki/ca.crt" --kubelet-preferred-address-types InternalIP
      else
        # No controller-manager makes the namespaces' default ServiceAccounts: pods would be refused.
        # No endpoints for the kubernetes Service (no pods reach it): from 1.37 the reconciler refuses a
        # loopback advertise address ("may not be in the loopback range").
        printf '%s\n' --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --endpoint-reconciler-type none --authorization-mode RBAC --disable-admission-plugins ServiceAccount
      fi
      printf '%s\n' --etcd-servers "unix://$ETCD_SOCK" --secure-port "$API_PORT" \
        --tls-cert-file "$DIR/pki/apiserver.crt" --tls-private-key-file "$DIR/pki/apiserver.key" \
        --client-ca-file "$DIR/pki/ca.crt" \
        --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$DIR/pki/sa.pub" \
        --service-account-signing-key-file "$DIR/pki/sa.key" \
        --service-cluster-ip-range "$SVC_CIDR" \
        --enable-priority-and-fairness=false \
        --cert-dir "$DIR/pki" ;;
    controller-manager)
      printf '%s\n' --kubeconfig "$DIR/controller-manager.kubeconfig" \
        --authentication-kubeconfig "$DIR/controller-manager.kubeconfig" --authorization-kubeconfig "$DIR/controller-manager.kubeconfig" \
        --bind-address 127.0.0.1 --secure-port 10257 --leader-elect=false \
        --service-account-private-key-file "$DIR/pki/sa.key" --root-ca-file "$DIR/pki/ca.crt" --use-service-account-credentials \
        --cluster-signing-cert-file "$DIR/pki/ca.crt" --cluster-signing-key-file "$DIR/pki/ca.key" \
        --allocate-node-cidrs --cluster-cidr "$POD_CIDR" --node-cidr-mask-size 24 --service-cluster-ip-range "$SVC_CIDR" ;;
    scheduler)
      printf '%s\n' --kubeconfig "$DIR/scheduler.kubeconfig" \
        --authentication-kubeconfig "$DIR/scheduler.kubeconfig" --authorization-kubeconfig "$DIR/scheduler.kubeconfig" \
        --bind-address 127.0.0.1 --secure-port 10259 --leader-elect=false ;;
    kube-proxy)
      printf '%s\n' --config "$DIR/kube-proxy.yaml" ;;
    kubelet)
      printf '%s\n' --config "$DIR/kubelet/config.yaml" --kubeconfig "$DIR/kubelet.kubeconfig" \
        --root-dir "$DIR/kubelet" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --v=1
      # Before 1.27 the runtime's endpoint was a flag only (the config field is ignored, with a warning).
      if [ "$MINOR" -lt 27 ]; then printf '%s\n' --container-runtime-endpoint "unix://$SOCK"; fi ;;
    *) return 1 ;;
  esac
}

# cfg_all: every generated file, object and argument list, each under a "### NAME" line (the `config`
# command; the golden files). The registry's password is shown as a placeholder.
cfg_all() {
  local reg="127.0.0.1:${CFG_REGISTRY_PORT:-5000}" u n
  for u in admin restricted kubelet kube-proxy controller-manager scheduler; do
    printf '### %s.kubeconfig\n' "$u"
    if [ "$u" = restricted ]; then cfg_kubeconfig "$u" "$RESTRICTED_NS"; else cfg_kubeconfig "$u"; fi
  done
  printf '### containerd/certs.d/%s/hosts.toml\n' "$reg"; cfg_registry_hosts "$reg"
  printf '### containerd/config.toml\n'; cfg_containerd "$reg" '<the local registry password>'
  printf '### cni/net.d/10-%s.conflist\n' "$CNI_NET"; cfg_cni
  printf '### kubelet/resolv.conf\n'; cfg_resolv
  printf '### kubelet/config.yaml\n'; cfg_kubelet
  printf '### kube-proxy.yaml\n'; cfg_kube_proxy
  for n in etcd apiserver controller-manager scheduler kube-proxy kubelet; do
    printf '### %s arguments\n' "$n"; cfg_args "$n"
  done
  printf '### apiserver arguments (API only)\n'; NODE=0 cfg_args apiserver
  for n in "${RESTRICTED_OBJECTS[@]}" "${COREDNS_OBJECTS[@]}"; do
    printf '### %s: %s\n' "$n" "$(cfg_object_path "$n")"; cfg_object "$n"
  done
}
