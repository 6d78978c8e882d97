#!/usr/bin/env bash
# A real OCI registry on loopback for publish tests: Debian's docker-registry (distribution 2.8) with
# htpasswd (bcrypt) auth and TLS from a self-signed CA of ours. PID-managed, no systemd.
#
#   scripts/local-registry.sh start    # idempotent; prints nothing but the address on success
#   scripts/local-registry.sh stop
#   scripts/local-registry.sh status   # exit 0 when running
#   scripts/local-registry.sh env      # export lines: LOCAL_REGISTRY, LOCAL_REGISTRY_CERT_DIR, REGISTRY_USER, REGISTRY_PASSWORD
#
# State lives in "$SPARKCRAFT_CACHE/local-registry" (or LOCAL_REGISTRY_STATE): certs/, htpasswd, config.yml,
# data/, port, pid, registry.log. The password is generated once (0600 file) and printed only by `env`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"
STATE=${LOCAL_REGISTRY_STATE:-$SPARKCRAFT_CACHE/local-registry}
USER_NAME=sparkcraft

# running: docker-registry serving this state's config runs (daemon.sh: its pid file, argv[0], config path)
running() { daemon_alive "$STATE/pid" "docker-registry serve $STATE/config.yml"; }

port() { cat "$STATE/port"; }

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

ensure_files() {
  command -v docker-registry >/dev/null || die "docker-registry not installed (run: bash scripts/setup.sh registry)"
  command -v htpasswd >/dev/null || die "htpasswd not installed (run: bash scripts/setup.sh registry)"
  mkdir -p "$STATE/certs" "$STATE/data"
  chmod 700 "$STATE"
  if [ ! -s "$STATE/port" ]; then
    echo "${LOCAL_REGISTRY_PORT:-$(free_port)}" > "$STATE/port"
  fi
  local c="$STATE/certs"
  if [ ! -s "$c/ca.crt" ] || [ ! -s "$c/server.crt" ]; then
    local tmp; tmp=$(mktemp -d "$STATE/certs.tmp.XXXX")
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=sparkcraft local registry CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$tmp/ca.key" -out "$tmp/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=127.0.0.1" -keyout "$tmp/server.key" -out "$tmp/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' > "$tmp/ext.cnf"
    openssl x509 -req -sha256 -days 825 -in "$tmp/server.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial \
      -extfile "$tmp/ext.cnf" -out "$tmp/server.crt" 2>/dev/null
    # skopeo --cert-dir reads *.crt as CAs (and *.cert/*.key as client certs): keep only ca.crt in client/.
    mkdir -p "$tmp/client" && cp "$tmp/ca.crt" "$tmp/client/ca.crt"
    chmod 600 "$tmp/ca.key" "$tmp/server.key"
    rm -rf "$c" && mv "$tmp" "$c"
  fi
  if [ ! -s "$STATE/password" ]; then
    (umask 077; openssl rand -hex 16 > "$STATE/password.tmp" && mv "$STATE/password.tmp" "$STATE/password")
  fi
  if [ ! -s "$STATE/htpasswd" ] || [ "$STATE/password" -nt "$STATE/htpasswd" ]; then
    # bcrypt (distribution's htpasswd only accepts bcrypt); the password goes through stdin, not argv.
    (umask 077; htpasswd -niB "$USER_NAME" < "$STATE/password" > "$STATE/htpasswd.tmp" 2>/dev/null && mv "$STATE/htpasswd.tmp" "$STATE/htpasswd")
  fi
  if [ ! -s "$STATE/http-secret" ]; then
    (umask 077; openssl rand -hex 32 > "$STATE/http-secret")
  fi
  cat > "$STATE/config.yml.tmp" <<YAML
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $STATE/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$(port)
  secret: $(cat "$STATE/http-secret")
  tls:
    certificate: $c/server.crt
    key: $c/server.key
auth:
  htpasswd:
    realm: sparkcraft-local-registry
    path: $STATE/htpasswd
YAML
  chmod 600 "$STATE/config.yml.tmp"
  mv "$STATE/config.yml.tmp" "$STATE/config.yml"
}

ready() {
  # 401 from /v2/ = TLS up and auth enforced.
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$STATE/certs/ca.crt" "https://127.0.0.1:$(port)/v2/" 2>/dev/null || true)
  [ "$code" = "401" ]
}

start() {
  if running; then echo "127.0.0.1:$(port)"; return 0; fi
  ensure_files
  daemon_launch "$STATE/pid" "$STATE/registry.log" docker-registry serve "$STATE/config.yml"
  local rc=0
  daemon_wait "$STATE/pid" 10 ready || rc=$?
  if [ "$rc" = 0 ]; then echo "127.0.0.1:$(port)"; return 0; fi
  tail -n 5 "$STATE/registry.log" >&2 || true
  daemon_stop "$STATE/pid" "docker-registry serve $STATE/config.yml" || true
  [ "$rc" = 2 ] && die "local registry exited while starting (log: $STATE/registry.log)"
  die "local registry did not become ready on 127.0.0.1:$(port) within 10 s (log: $STATE/registry.log)"
}

stop() { daemon_stop "$STATE/pid" "docker-registry serve $STATE/config.yml" || die "the local registry (pid $(cut -d' ' -f1 "$STATE/pid")) does not stop"; }

env_lines() {
  running || die "local registry is not running (run: bash scripts/local-registry.sh start)"
  printf 'export LOCAL_REGISTRY=127.0.0.1:%s\n' "$(port)"
  printf 'export LOCAL_REGISTRY_CERT_DIR=%s\n' "$STATE/certs/client"
  printf 'export LOCAL_REGISTRY_CA=%s\n' "$STATE/certs/ca.crt"
  printf 'export REGISTRY_USER=%s\n' "$USER_NAME"
  printf 'export REGISTRY_PASSWORD=%s\n' "$(cat "$STATE/password")"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running on 127.0.0.1:$(port) (pid $(cut -d' ' -f1 "$STATE/pid"))"; else echo "stopped"; exit 1; fi ;;
  env) env_lines ;;
  *) die "usage: $0 start|stop|status|env" ;;
esac
