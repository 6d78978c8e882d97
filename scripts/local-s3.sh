#!/usr/bin/env bash
# A real S3-compatible server for Spark's s3a: SeaweedFS (`weed server` with its S3 gateway, Apache-2.0),
# installed by scripts/setup.d/60-s3.sh. PID-managed, no systemd; listens on loopback only, plus, when
# LOCAL_S3_BIND names one, an S3 gateway on that address (the node/bridge address pods reach).
#
#   scripts/local-s3.sh start    # idempotent; new credentials on every start that starts the server
#   scripts/local-s3.sh stop     # stops every process it started and waits for them to be gone
#   scripts/local-s3.sh status   # exit 0 when running and a signed ListBuckets answers 200
#   scripts/local-s3.sh env      # export lines: endpoint(s), region, access key, the secret key's FILE
#
# Settings (environment): LOCAL_S3_DIR (state; default $SPARKCRAFT_CACHE/local-s3), LOCAL_S3_PORT (S3
# port, default 18333; the internal master/volume/filer ports are PORT+1..3 and their gRPC ports
# PORT+10000..10004), LOCAL_S3_BIND (an IPv4 address of this machine other than the outside interface's;
# the gateway there uses the same PORT, and serves HTTPS on PORT+4 with the certificate of a CA made at
# its start: `env` names the CA's file, LOCAL_S3_CA_FILE).
#
# The secret key lives only in "$LOCAL_S3_DIR/secret-key" and "$LOCAL_S3_DIR/s3.json" (both 0600) while
# the server runs; nothing here prints it, and curl gets it on stdin, not argv.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"
STATE=${LOCAL_S3_DIR:-$SPARKCRAFT_CACHE/local-s3}
PORT=${LOCAL_S3_PORT:-18333}
BIND=${LOCAL_S3_BIND:-}
REGION=us-east-1
SEAWEEDFS_VERSION=4.48
WEED="$SPARKCRAFT_CACHE/seaweedfs/$SEAWEEDFS_VERSION/weed"

[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1024 ] && [ "$PORT" -le 55000 ] || die "LOCAL_S3_PORT must be a port from 1024 to 55000 (its gRPC ports are PORT+10000..10004), got '$PORT'"

# pid_alive FILE: the process in FILE runs and is ours (weed, its command line naming $STATE; daemon.sh).
pid_alive() { daemon_alive "$1" "$STATE/"; }

running() { pid_alive "$STATE/server.pid"; }

# start failed: what it launched goes too, so the next start begins clean.
abandon() { # abandon PIDFILE MESSAGE
  local pid=""; read -r pid _ < "$1" 2>/dev/null || true
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1"
  die "$2"
}

# weed puts the gRPC unix sockets of each server in /tmp, named after the port: drop ours when stopped.
drop_sockets() {
  local p
  for p in $((PORT + 10000)) $((PORT + 10001)) $((PORT + 10002)) $((PORT + 10003)) $((PORT + 10004)); do
    rm -f /tmp/seaweedfs-{master,volume,filer,s3}-grpc-$p.sock
  done
  rm -f "$STATE"/*.sock
}

# s3_curl URL [curl args]: a request signed with the current credentials; the key pair goes through stdin.
s3_curl() {
  local url=$1; shift
  { printf 'user = "%s:' "$(cat "$STATE/access-key")"; cat "$STATE/secret-key"; printf '"\n'; } |
    curl -s -K - --aws-sigv4 "aws:amz:$REGION:s3" "$@" "$url"
}

answers() { # answers HOST: a signed ListBuckets on HOST:PORT returns 200
  [ "$(s3_curl "http://$1:$PORT/" -o /dev/null -w '%{http_code}' --max-time 5 2>/dev/null)" = 200 ]
}
answers_tls() { # answers_tls HOST: the same over HTTPS on PORT+4, the server's certificate checked against our CA
  [ "$(s3_curl "https://$1:$((PORT + 4))/" --cacert "$STATE/tls/ca.crt" -o /dev/null -w '%{http_code}' --max-time 5 2>/dev/null)" = 200 ]
}

check_bind() {
  [ -z "$BIND" ] && return 0
  [[ "$BIND" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]] || die "LOCAL_S3_BIND must be one IPv4 address, got '$BIND'"
  case "$BIND" in 0.0.0.0|127.*) die "LOCAL_S3_BIND=$BIND: give the node/bridge address pods reach (loopback is always served; never 0.0.0.0)";; esac
  [[ "$(ip -o -4 addr show)" == *"inet $BIND/"* ]] || die "LOCAL_S3_BIND=$BIND is not an address of this machine (ip -4 addr)"
  local out; out=$(ip route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1)}' | sort -u)
  for dev in $out; do
    [[ "$(ip -o -4 addr show dev "$dev")" == *"inet $BIND/"* ]] && die "LOCAL_S3_BIND=$BIND is on $dev, the machine's outside interface: S3 must stay on loopback and the pod network"
  done
  return 0
}

new_credentials() {
  (umask 077
   printf 'SC%s' "$(openssl rand -hex 9 | tr a-f A-F)" > "$STATE/access-key.tmp"
   openssl rand -hex 20 | tr -d '\n' > "$STATE/secret-key.tmp"
   # (both keys are hex digits: nothing to escape; printf, not python3's json: new_credentials took 0.57 s with it, load 3)
   printf '{"identities": [{"name": "sparkcraft", "credentials": [{"accessKey": "%s", "secretKey": "%s"}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}\n' \
     "$(cat "$STATE/access-key.tmp")" "$(cat "$STATE/secret-key.tmp")" > "$STATE/s3.json.tmp"
   mv "$STATE/s3.json.tmp" "$STATE/s3.json"
   mv "$STATE/secret-key.tmp" "$STATE/secret-key"
   mv "$STATE/access-key.tmp" "$STATE/access-key")
}

# rw_ready: data is served, not only metadata. Right after a restart the gateway answers ListBuckets
# (the filer's metadata) while reads and writes still get 500 InternalError until the volume server
# has re-registered its volumes with the master. Ready means: the probe object the previous start
# wrote reads back (the old volumes are served again; 404 if someone removed it), and a new probe
# object goes up and reads back.
# A 200 with other bytes than the previous start wrote also means "served": SeaweedFS can come back
# with an object's previous version when it was stopped soon after the write (seen in CI: the probe of
# the start before read back, every time, so a byte comparison here failed every later start for
# 60 s). That is said once on stderr, not waited on.
PROBE_BUCKET=sparkcraft-readiness
rw_ready() {
  local url="http://127.0.0.1:$PORT/$PROBE_BUCKET" code nonce
  if [ -s "$STATE/probe" ]; then
    code=$(s3_curl "$url/probe" -o "$STATE/probe.got" -w '%{http_code}' --max-time 5 2>/dev/null) || return 1
    case "$code" in
      200) cmp -s "$STATE/probe" "$STATE/probe.got" ||
             say "note: SeaweedFS came back with an older version of its readiness probe than the last start wrote (it lost a write made just before a stop); continuing" ;;
      404) ;;
      *) return 1 ;;
    esac
    rm -f "$STATE/probe"
  fi
  code=$(s3_curl "$url" -X PUT -o /dev/null -w '%{http_code}' --max-time 5 2>/dev/null) || return 1
  [ "$code" = 200 ] || [ "$code" = 409 ] || return 1
  nonce="ready $(date -u +%s%N)"
  printf '%s' "$nonce" > "$STATE/probe.new"
  # curl signs the payload only when told its hash (else SignatureDoesNotMatch)
  code=$(s3_curl "$url/probe" -X PUT -H "x-amz-content-sha256: $(sha256sum < "$STATE/probe.new" | cut -d' ' -f1)" \
    --data-binary @"$STATE/probe.new" -o /dev/null -w '%{http_code}' --max-time 5 2>/dev/null) || return 1
  [ "$code" = 200 ] || return 1
  code=$(s3_curl "$url/probe" -o "$STATE/probe.got" -w '%{http_code}' --max-time 5 2>/dev/null) || return 1
  [ "$code" = 200 ] && cmp -s "$STATE/probe.new" "$STATE/probe.got" || return 1
  mv "$STATE/probe.new" "$STATE/probe"
  rm -f "$STATE/probe.got"
}

# waited PIDFILE LOG SECONDS WHAT CMD...: CMD succeeds within SECONDS while the launched weed runs, or
# the start is abandoned with the log's tail.
waited() {
  local pidfile=$1 log=$2 seconds=$3 what=$4 rc=0; shift 4
  daemon_wait "$pidfile" "$seconds" "$@" || rc=$?
  [ "$rc" = 0 ] && return 0
  tail -n 20 "$log" >&2
  [ "$rc" = 2 ] && abandon "$pidfile" "SeaweedFS exited while starting (log: $log)"
  abandon "$pidfile" "$what within $seconds s (log: $log)"
}
wait_rw() { waited "$STATE/server.pid" "$STATE/server.log" 60 "S3 on 127.0.0.1:$PORT answered but did not store and read back an object" rw_ready; }
wait_answers() { waited "$2" "$3" 30 "S3 on $1:$PORT did not answer" answers "$1"; } # wait_answers HOST PIDFILE LOG

start_server() {
  mkdir -p "$STATE/data"
  chmod 700 "$STATE"
  new_credentials
  printf '%s\n' "$PORT" > "$STATE/port"
  # Loopback only; telemetry off (and pointed at a closed loopback port, should a default ever flip);
  # the Iceberg REST and Lance ports of the S3 gateway are off; sockets live in the state directory.
  # The single master does not replay its raft state (-master.resumeState, default true since a
  # SeaweedFS release after the one this was first measured with): with it, the first write after a
  # restart waited ~15 s (every start 18.4-19.4 s; a copy of the data without data/m<port> 3.4 s). The
  # volumes and the filer keep the data; the master learns them from the volume server's heartbeat.
  daemon_launch "$STATE/server.pid" "$STATE/server.log" "$WEED" server \
    -dir="$STATE/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port=$((PORT + 1)) -master.port.grpc=$((PORT + 10001)) \
    -master.telemetry=false -master.telemetry.url=http://127.0.0.1:9/ -master.resumeState=false -master.volumeSizeLimitMB=256 -master.electionTimeout=1s \
    -volume.port=$((PORT + 2)) -volume.port.grpc=$((PORT + 10002)) -volume.max=0 -volume.preStopSeconds=0 \
    -filer -filer.port=$((PORT + 3)) -filer.port.grpc=$((PORT + 10003)) -filer.localSocket="$STATE/filer.sock" \
    -s3 -s3.port="$PORT" -s3.port.grpc=$((PORT + 10000)) -s3.port.iceberg=0 -s3.port.lance=0 \
    -s3.localSocket="$STATE/s3.sock" -s3.config="$STATE/s3.json"
  wait_answers 127.0.0.1 "$STATE/server.pid" "$STATE/server.log"
  wait_rw
}

# tls_material: a CA made at this start (its key discarded once it has signed) and the gateway's certificate
# for BIND and 127.0.0.1, under $STATE/tls: ca.crt (what clients trust), server.crt, server.key (0600).
tls_material() {
  local d="$STATE/tls" t="$STATE/tls.tmp"
  rm -rf "$t"; (umask 077; mkdir -p "$t")
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -days 30 -subj "/CN=sparkcraft local S3 CA $(date -u +%Y%m%dT%H%M%SZ)" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$t/ca.key" -out "$t/ca.crt" 2>/dev/null || die "openssl could not make the local S3 CA"
  openssl req "${ec[@]}" -subj "/CN=$BIND" -keyout "$t/server.key" -out "$t/server.csr" 2>/dev/null \
    || die "openssl could not make the local S3 server key"
  printf 'subjectAltName=IP:%s,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' "$BIND" > "$t/ext"
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
    -days 30 -extfile "$t/ext" -out "$t/server.crt" 2>/dev/null || die "openssl could not sign the local S3 certificate"
  rm -f "$t/ca.key" "$t/server.csr" "$t/ext"
  chmod 644 "$t/ca.crt" "$t/server.crt"
  rm -rf "$d" && mv "$t" "$d"
}

start_bind() {
  [ -z "$BIND" ] && return 0
  if pid_alive "$STATE/bind.pid"; then
    [ "$(cat "$STATE/bind")" = "$BIND" ] && return 0
    die "the S3 gateway already listens on $(cat "$STATE/bind"); stop first to move it to $BIND"
  fi
  printf '%s\n' "$BIND" > "$STATE/bind"
  tls_material
  # HTTP on PORT, HTTPS (the certificate of a CA made now: $STATE/tls/ca.crt) on PORT+4.
  daemon_launch "$STATE/bind.pid" "$STATE/bind.log" "$WEED" s3 \
    -filer=127.0.0.1:$((PORT + 3)) -ip="$BIND" -ip.bind="$BIND" -port="$PORT" -port.grpc=$((PORT + 10004)) \
    -port.https=$((PORT + 4)) -cert.file="$STATE/tls/server.crt" -key.file="$STATE/tls/server.key" \
    -port.iceberg=0 -port.lance=0 -localSocket="$STATE/s3-bind.sock" -config="$STATE/s3.json"
  wait_answers "$BIND" "$STATE/bind.pid" "$STATE/bind.log"
  waited "$STATE/bind.pid" "$STATE/bind.log" 30 "S3 on https://$BIND:$((PORT + 4)) did not answer" answers_tls "$BIND"
}

# weed's own graceful stop takes 25 s (the filer waits 15 s on its own metadata subscription, the
# volume server 10 s more); what it has written is in the kernel already, so after 5 s it is killed.
stop_pid() { # stop_pid PIDFILE: TERM, up to 5 s, then KILL; returns when the process is gone
  daemon_stop "$1" "$STATE/" 5 || die "process $(cut -d' ' -f1 "$1") ($1) does not stop"
}

case "${1:-}" in
  start)
    check_bind
    # A server left by a killed start may run without serving (seen: its filer never came up, so the
    # gateway on the node address could not reach it): one that does not answer is replaced.
    if running && ! answers 127.0.0.1; then
      stop_pid "$STATE/bind.pid"
      stop_pid "$STATE/server.pid"
    fi
    if ! running; then
      [ -x "$WEED" ] || bash "$SPARKCRAFT_ROOT/scripts/setup.d/60-s3.sh"
      stop_pid "$STATE/bind.pid"
      drop_sockets
      start_server
    elif [ "$(cat "$STATE/port")" != "$PORT" ]; then
      die "local S3 already runs on port $(cat "$STATE/port") from $STATE; stop it first to use $PORT"
    fi
    start_bind
    echo "http://127.0.0.1:$PORT${BIND:+ http://$BIND:$PORT https://$BIND:$((PORT + 4))}"
    ;;
  stop)
    stop_pid "$STATE/bind.pid"
    stop_pid "$STATE/server.pid"
    [ -s "$STATE/port" ] && PORT=$(cat "$STATE/port")
    drop_sockets
    rm -f "$STATE/secret-key" "$STATE/s3.json" "$STATE/access-key" "$STATE/bind"
    rm -rf "$STATE/tls"
    ;;
  status)
    running || { echo "local S3: stopped" >&2; exit 1; }
    PORT=$(cat "$STATE/port")
    answers 127.0.0.1 || { echo "local S3: pid $(cut -d' ' -f1 "$STATE/server.pid") runs but 127.0.0.1:$PORT does not answer" >&2; exit 1; }
    if pid_alive "$STATE/bind.pid"; then
      answers "$(cat "$STATE/bind")" || { echo "local S3: the gateway on $(cat "$STATE/bind"):$PORT does not answer" >&2; exit 1; }
    fi
    echo "local S3: running on 127.0.0.1:$PORT$(pid_alive "$STATE/bind.pid" && echo " and $(cat "$STATE/bind"):$PORT")"
    ;;
  env)
    running || die "local S3 is not running (scripts/local-s3.sh start)"
    PORT=$(cat "$STATE/port")
    echo "export LOCAL_S3_ENDPOINT=http://127.0.0.1:$PORT"
    if pid_alive "$STATE/bind.pid"; then
      echo "export LOCAL_S3_POD_ENDPOINT=http://$(cat "$STATE/bind"):$PORT"
      echo "export LOCAL_S3_TLS_ENDPOINT=https://$(cat "$STATE/bind"):$((PORT + 4))"
      echo "export LOCAL_S3_CA_FILE=$STATE/tls/ca.crt"
    fi
    echo "export LOCAL_S3_REGION=$REGION"
    echo "export LOCAL_S3_ACCESS_KEY=$(cat "$STATE/access-key")"
    echo "export LOCAL_S3_SECRET_KEY_FILE=$STATE/secret-key"
    ;;
  *)
    die "usage: scripts/local-s3.sh start|stop|status|env"
    ;;
esac
