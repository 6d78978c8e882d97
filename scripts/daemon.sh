# shellcheck shell=bash
# The daemons of the local servers (local-k8s.sh, local-s3.sh, local-registry.sh): started, recognised and
# stopped one way. Source it after lib.sh:  . "$(dirname "$0")/daemon.sh"
#
# A daemon has a pid file holding "PID ARGV0". It counts as running only while that pid's argv[0] is still
# ARGV0 (a pid reused by another program is not ours) and, when the caller gives a MARKER (its state
# directory, its config file), while its command line names the MARKER (the same program started for
# another state directory is not ours either). A pid file of one field (an older version's) is read too.

# daemon_argv0 /proc/PID/cmdline: the process's argv[0] in ARGV0 and the file it was read from in CMDLINE
# (read by bash itself: no process per process scanned); 1 when it is gone or its command line is empty.
# A process whose main thread has exited while others still run (a Go program shutting down: seen on CI,
# the kubelet's port still held with its /proc/PID/cmdline already empty) is read through a live thread.
daemon_argv0() {
  ARGV0="" CMDLINE=$1
  { IFS= read -r -d '' ARGV0 < "$1"; } 2>/dev/null || [ -n "$ARGV0" ] && return 0
  for CMDLINE in "${1%/cmdline}"/task/*/cmdline; do
    { IFS= read -r -d '' ARGV0 < "$CMDLINE"; } 2>/dev/null || [ -n "$ARGV0" ] && return 0
  done
  return 1
}

# daemon_alive PIDFILE [MARKER]: the pid file names a live process that is ours (see above).
daemon_alive() {
  local f=$1 marker=${2:-} pid="" exe="" cmd
  [ -f "$f" ] || return 1
  read -r pid exe < "$f" || true
  [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] || return 1
  daemon_argv0 "/proc/$pid/cmdline" || return 1
  [ -z "$exe" ] || [ "$ARGV0" = "$exe" ] || return 1
  [ -z "$marker" ] && return 0
  # (no `| grep -q`: with pipefail, grep leaving early can fail the pipeline with SIGPIPE)
  cmd=$(tr '\0' ' ' < "$CMDLINE" 2>/dev/null) || return 1
  [[ "$cmd" == *"$marker"* ]]
}

# daemon_launch PIDFILE LOG CMD...: CMD in a session of its own, detached from the caller (lib.sh's
# detach), in the folder DAEMON_CWD (default: this one), writing LOG (the previous one is kept as LOG.1).
# Returns once CMD has been exec'ed (or has exited): until then the pid's argv[0] is the shell's or
# setsid's and daemon_alive would call a daemon that is still starting dead (seen once under load: "the
# apiserver did not become ready" within the second, its log empty).
daemon_launch() {
  local pidfile=$1 log=$2 pid; shift 2
  [ -f "$log" ] && mv -f "$log" "$log.1"
  ( cd "${DAEMON_CWD:-.}" && detach "$@" ) > "$log" 2>&1 < /dev/null &
  pid=$!
  echo "$pid $1" > "$pidfile.tmp" && mv -f "$pidfile.tmp" "$pidfile"
  for _ in $(seq 1 100); do
    [ -r "/proc/$pid/cmdline" ] || break
    daemon_argv0 "/proc/$pid/cmdline" && [ "$ARGV0" = "$1" ] && break
    sleep 0.05
  done
}

# daemon_stop PIDFILE [MARKER] [GRACE]: SIGTERM, up to GRACE seconds (default 5), then SIGKILL; returns
# once the process is gone and the pid file removed; 1 (pid file kept) when it cannot be stopped.
daemon_stop() {
  local f=$1 marker=${2:-} grace=${3:-5} pid
  if daemon_alive "$f" "$marker"; then
    read -r pid _ < "$f"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((grace * 10))); do daemon_alive "$f" "$marker" || break; sleep 0.1; done
    if daemon_alive "$f" "$marker"; then
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do daemon_alive "$f" "$marker" || break; sleep 0.1; done
      daemon_alive "$f" "$marker" && return 1
    fi
  fi
  rm -f "$f"
}

# daemon_wait PIDFILE SECONDS COMMAND...: until COMMAND succeeds (0), for SECONDS at most (1), or until the
# daemon of PIDFILE has exited (2), whichever comes first; COMMAND is tried every 0.2 s.
daemon_wait() {
  local f=$1 n=$(( $2 * 5 )) pid=""; shift 2
  read -r pid _ < "$f" 2>/dev/null || true
  for _ in $(seq 1 "$n"); do
    "$@" && return 0
    # (an exited child of this shell is a zombie until reaped: its command line is empty)
    daemon_argv0 "/proc/${pid:-x}/cmdline" || return 2
    sleep 0.2
  done
  "$@" && return 0
  return 1
}

# daemon_log_tail LOG: what to show of a daemon's log when it failed: its last error lines if it has any
# (klog's E/F lines, level=error/fatal ones; not the flag dump before them), else its last 20 lines.
daemon_log_tail() {
  local errs
  errs=$(grep -E '^[EF][0-9]{4} |level=(error|fatal)|"level":"(error|fatal)"' "$1" 2>/dev/null | tail -10 || true)
  if [ -n "$errs" ]; then printf '%s\n' "$errs" >&2; else tail -20 "$1" >&2 2>/dev/null || true; fi
}
