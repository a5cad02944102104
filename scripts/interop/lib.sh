# Shared helpers for scripts/interop/*-origin (sourced, not run).
# shellcheck shell=bash

INTEROP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON3="${NTLMPROXY_FIXTURE_PYTHON:-python3}"
NTLM_DOMAIN="NTLMTEST"
# The users every fixture knows (DOMAIN:user:password, gss-ntlmssp's NTLM_USER_FILE format).
DEFAULT_USERS=("$NTLM_DOMAIN:alice:Alice-Pass1" "$NTLM_DOMAIN:bob:Bob-Pass2")

log() { printf '%s: %s\n' "$PROG" "$*"; }
die() { printf '%s: ERROR: %s\n' "$PROG" "$*" >&2; exit 1; }

# Absolute path of DIR (created if missing).
abs_dir() {
    [ -n "${1:-}" ] || die "usage: $PROG start|stop|status|failed-logons|handshakes DIR"
    mkdir -p "$1"
    (cd "$1" && pwd)
}

# The DIR and its ancestors must be searchable by the unprivileged users our daemons drop to
# (www-data for Apache children, proxy for squid and its helpers). mktemp -d makes 0700 dirs:
# add only the search bit (never read) on DIR and on those of its ancestors that we own and
# that the user cannot pass; complain clearly about any other ancestor.
make_traversable() {
    local dir="$1" user="$2" d
    [ "$(id -u)" = "0" ] || return 0
    chmod a+x "$dir"
    d="$dir"
    while [ "$d" != "/" ]; do
        d="$(dirname "$d")"
        setpriv --reuid="$user" --regid="$user" --clear-groups test -x "$d" 2>/dev/null && continue
        if [ "$(stat -c %u "$d")" = "$(id -u)" ]; then
            chmod a+x "$d"
            log "note: added the search bit (a+x) to $d so user $user can reach $dir"
        else
            die "$d is not searchable by user $user (needed to reach $dir); chmod a+x $d or use another folder"
        fi
    done
}

# Prints N distinct free TCP ports on 127.0.0.1 (all bound at once, then released).
free_ports() {
    "$PYTHON3" - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# Writes the users file: defaults, then $NTLMPROXY_EXTRA_USERS (whitespace-separated
# DOMAIN:user:password entries), then DIR/users.extra (one entry per line) if present.
write_users_file() {
    local dir="$1" file="$1/users" tmp entry
    tmp="$(mktemp "$dir/.users.XXXXXX")"
    {
        printf '%s\n' "${DEFAULT_USERS[@]}"
        for entry in ${NTLMPROXY_EXTRA_USERS:-}; do printf '%s\n' "$entry"; done
        if [ -f "$dir/users.extra" ]; then grep -v '^[[:space:]]*\(#\|$\)' "$dir/users.extra" || true; fi
    } > "$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$file"
}

# Iterates "domain user password" over the users file.
each_user() {
    local line domain user pass
    while IFS= read -r line || [ -n "$line" ]; do
        [ -n "$line" ] || continue
        domain="${line%%:*}"; line="${line#*:}"
        user="${line%%:*}"; pass="${line#*:}"
        printf '%s %s %s\n' "$domain" "$user" "$pass"
    done < "$1"
}

# ports.env holds shell assignments; each fixture owns some keys (so two fixtures may share
# a DIR). set_ports DIR KEY=VALUE...: replaces those keys, keeps the others.
set_ports() {
    local dir="$1" file="$1/ports.env" tmp kv
    shift
    tmp="$(mktemp "$dir/.ports.XXXXXX")"
    if [ -f "$file" ]; then
        cp "$file" "$tmp"
        for kv in "$@"; do
            grep -v "^${kv%%=*}=" "$tmp" > "$tmp.n" || true
            mv -f "$tmp.n" "$tmp"
        done
    fi
    printf '%s\n' "$@" >> "$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$file"
}
unset_ports() {
    local dir="$1" file="$1/ports.env" key
    shift
    [ -f "$file" ] || return 0
    for key in "$@"; do
        grep -v "^${key}=" "$file" > "$file.n" || true
        mv -f "$file.n" "$file"
    done
    [ -s "$file" ] || rm -f "$file"
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
read_pid() { [ -f "$1" ] && tr -dc '0-9' < "$1" || true; }

# Pids of processes whose command line mentions a path (our DIR-specific config files), so a
# fixture only ever touches its own daemons.
pids_mentioning() {
    local needle="$1" p args
    for p in /proc/[0-9]*; do
        { mapfile -d '' args < "$p/cmdline"; } 2>/dev/null || continue
        case "${args[*]}" in *"$needle"*) printf '%s\n' "${p#/proc/}" ;; esac
    done
}

# stop_pid PID [WHAT]: SIGTERM, wait up to 10 s, then SIGKILL.
stop_pid() {
    local pid="$1" what="${2:-process}"
    pid_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        pid_alive "$pid" || return 0
        # a zombie child of ours counts as gone
        [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = "Z" ] && return 0
        sleep 0.1
    done
    log "$what ($pid) did not stop on SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

# SIGTERM to every process mentioning NEEDLE, then wait_gone.
stop_all_mentioning() {
    local p
    for p in $(pids_mentioning "$1"); do kill -TERM "$p" 2>/dev/null || true; done
    wait_gone "$1"
}

# Waits until every process mentioning NEEDLE is gone (SIGKILL after ~10 s).
wait_gone() {
    local needle="$1" p left
    for _ in $(seq 1 100); do
        left="$(pids_mentioning "$needle")"
        [ -z "$left" ] && return 0
        sleep 0.1
    done
    for p in $left; do kill -KILL "$p" 2>/dev/null || true; done
}

# Starts the echo backend detached; prints its port. start_backend STATE_DIR
start_backend() {
    local dir="$1" port
    mkdir -p "$dir"
    rm -f "$dir/port" "$dir/pid"
    setsid "$PYTHON3" "$INTEROP_DIR/echo_backend.py" --port 0 \
        --port-file "$dir/port" --pid-file "$dir/pid" \
        </dev/null >>"$dir/backend.log" 2>&1 &
    local deadline=$((SECONDS + 20))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if [ -s "$dir/port" ]; then
            port="$(tr -dc '0-9' < "$dir/port")"
            printf '%s\n' "$port"
            return 0
        fi
        pid_alive "$!" || break
        sleep 0.05
    done
    tail -n 20 "$dir/backend.log" >&2 || true
    die "echo backend did not start (log: $dir/backend.log)"
}

stop_backend() {
    local dir="$1" pid
    pid="$(read_pid "$dir/pid")"
    [ -n "$pid" ] && stop_pid "$pid" "echo backend"
    rm -f "$dir/pid" "$dir/port"
}

# wait_http URL SECONDS [CURL ARGS...]: until the URL answers 200.
wait_http() {
    local url="$1" deadline=$((SECONDS + $2)) code
    shift 2
    while [ "$SECONDS" -lt "$deadline" ]; do
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" 2>/dev/null || true)"
        [ "$code" = "200" ] && return 0
        sleep 0.1
    done
    return 1
}

# Prints a log's tail under a heading, to stderr.
show_tail() {
    local file="$1" n="${2:-30}"
    [ -f "$file" ] || return 0
    printf -- '--- last %s lines of %s ---\n' "$n" "$file" >&2
    tail -n "$n" "$file" >&2
}

# Log positions, so a retry looks only at what this attempt wrote: log_mark FILE prints its
# size; log_since FILE MARK prints what was appended after it.
log_mark() { stat -c %s "$1" 2>/dev/null || echo 0; }
log_since() { [ -f "$1" ] && tail -c +"$(( $2 + 1 ))" "$1" || true; }

# count_lines FILE PATTERN (grep -E), 0 when the file is missing.
count_lines() {
    local n
    [ -f "$1" ] || { echo 0; return 0; }
    n="$(grep -cE -- "$2" "$1" 2>/dev/null || true)"
    echo "${n:-0}"
}
