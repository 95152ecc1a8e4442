#!/usr/bin/env bash
# End-to-end suite: real clients (skopeo, podman, buildah, docker) push and pull
# through the helper against a real registry, finding credentials only through a
# `credHelpers` entry. Also the engine behind scripts/demo.sh and scripts/bench.sh.
#
#   tests/e2e/e2e.sh install     Debian and PyPI packages the suite needs (root)
#   tests/e2e/e2e.sh setup       CA, /etc/hosts lines, system trust, moto, our fake
#                                endpoint, registries, dockerd, test image, client config
#   tests/e2e/e2e.sh test        the cases, against the helper chosen at setup (or E2E_HELPER)
#   tests/e2e/e2e.sh teardown [--purge]
#                                stop what setup started (by PID), unmount, restore
#                                /etc/hosts and the CA store; --purge also deletes E2E_DIR
#   tests/e2e/e2e.sh all         setup + test + teardown; teardown runs even when a case
#                                fails or the run is interrupted (what CI runs)
#   tests/e2e/e2e.sh demo [--helper PATH]
#                                a guided push and pull for a newcomer (scripts/demo.sh)
#   tests/e2e/e2e.sh status      what is running
#
# Environment:
#   E2E_HELPER   the helper binary under test (default: docker-credential-ecr on PATH,
#                else target/debug). Any docker-credential-* works; with one that is not
#                ours (the Go helper) the cases that test our own features are n/a.
#   E2E_DIR      state directory (default: $TMPDIR/docker-credential-ecr-e2e)
#   E2E_API      moto | fake: what answers api.ecr.us-east-1.amazonaws.com (default moto)
#   E2E_MOTO_FUTURE_EXPIRY=1   moto dates tokens 12 h ahead instead of 2015, so they cache
#   E2E_DOCKERD=0, E2E_REGISTRY=0   leave out dockerd / the registries (the benchmark does)
#
# Needs root (it binds :443, edits /etc/hosts and the CA store, runs dockerd).
# Without root it skips loudly with exit status 77, which is not a pass; with
# CI set, a skip is a failure (exit 1).
#
# Addresses, all loopback: registry (ECR-shaped names) 127.0.0.1:443, moto 127.0.0.2:443,
# our fake endpoint 127.0.0.3:443, an anonymous non-ECR registry (registry.e2e.test)
# 127.0.0.4:443. /etc/hosts maps api.ecr.us-east-1.amazonaws.com to moto (or the fake):
# the Go helper has no endpoint override, so that is the path both helpers share.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
E2E=${E2E_DIR:-${TMPDIR:-/tmp}/docker-credential-ecr-e2e}
MARK="# docker-credential-ecr-e2e"
CA_DEST=/usr/local/share/ca-certificates/docker-credential-ecr-e2e.crt

ACCOUNT=123456789012
OTHER_ACCOUNT=210987654321
REGION=us-east-1
HOST=$ACCOUNT.dkr.ecr.$REGION.amazonaws.com
OTHER_HOST=$OTHER_ACCOUNT.dkr.ecr.$REGION.amazonaws.com
API_HOST=api.ecr.$REGION.amazonaws.com
ANON_HOST=registry.e2e.test
# The authenticated registry again, under a name that is not ECR: `docker login` to it
# must be kept by the helper when it is docker's credsStore.
LOGIN_HOST=private.e2e.test
LOGIN_USER=alice
LOGIN_PASSWORD=alice-e2e-password
TOKEN=$ACCOUNT-auth-token # what moto and our fake issue for $ACCOUNT
REPO_NAME=e2e/hello

say() { printf '%s\n' "$*"; }
note() { printf 'e2e: %s\n' "$*" >&2; }
die() {
    printf 'e2e: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- preconditions

# Not root: a loud skip (77), never a pass; in CI a failure.
require_root() {
    [ "$(id -u)" = 0 ] && return 0
    if [ -n "${CI:-}" ]; then
        die "FAIL: the end-to-end suite must run as root in CI (it binds :443, edits /etc/hosts and the CA store, runs dockerd)"
    fi
    cat >&2 <<'MSG'
##########################################################################
#  SKIPPED: the end-to-end suite needs root (it binds :443, edits        #
#  /etc/hosts and the CA store, and runs dockerd). Nothing was tested.   #
#  Run it as: sudo tests/e2e/e2e.sh all                                  #
##########################################################################
MSG
    exit 77
}

E2E_TOOLS=(openssl curl jq htpasswd python3 skopeo podman buildah docker-registry docker dockerd containerd runc update-ca-certificates)
missing_tools() {
    local t missing=()
    for t in "${E2E_TOOLS[@]}"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
    python3 -c 'import moto.server, werkzeug' 2>/dev/null || missing+=("moto[server] (PyPI)")
    printf '%s\n' "${missing[@]}"
}

require_tools() {
    local missing
    missing=$(missing_tools)
    [ -z "$missing" ] && return 0
    if [ -n "${CI:-}" ]; then
        die "FAIL: missing tools in CI: $(tr "\n" " " <<<"$missing") (run tests/e2e/e2e.sh install)"
    fi
    note "SKIPPED: missing $(tr "\n" " " <<<"$missing"); install them with: sudo tests/e2e/e2e.sh install"
    exit 77
}

cmd_install() {
    require_root
    command -v apt-get >/dev/null || die "install: apt-get not found; install by hand: ${E2E_TOOLS[*]} and moto[server]"
    apt-get update -qq
    # docker.io brings dockerd, containerd and runc; apache2-utils brings htpasswd.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o DPkg::Lock::Timeout=600 \
        docker-registry skopeo podman buildah docker.io apache2-utils openssl ca-certificates \
        curl jq >/dev/null
    python3 -c 'import moto.server, werkzeug' 2>/dev/null ||
        python3 -m pip install --quiet --disable-pip-version-check 'moto[server]'
}

# The helper under test: E2E_HELPER, else ours on PATH, else this checkout's debug build.
resolve_helper() {
    local h=${E2E_HELPER:-}
    if [ -z "$h" ]; then
        h=$(command -v docker-credential-ecr 2>/dev/null || true)
        [ -n "$h" ] || h=$REPO/target/debug/docker-credential-ecr
    fi
    [ -x "$h" ] || die "no helper binary at '$h'; build one (cargo build) or set E2E_HELPER"
    readlink -f "$h"
}

# "ours" when the binary is this project's helper; anything else is compared, not tested for our features.
helper_kind() {
    if "$1" version 2>/dev/null | grep -q '^docker-credential-ecr '; then echo ours; else echo other; fi
}

# ---------------------------------------------------------------- small tools

wait_tcp() { # addr port what
    local _
    for _ in $(seq 300); do
        if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "$3 did not listen on $1:$2 in 30 s (log: $E2E/logs)"
}

# Start a background process, record its PID. name, then the command.
start_bg() {
    local name=$1
    shift
    "$@" >"$E2E/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$E2E/pids/$name.pid"
}

# Is PID alive and one we started (its command line names our state dir or one of our scripts)?
ours_pid() {
    local pid=$1 cmdline
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ "$cmdline" == *"$E2E"* || "$cmdline" == *"$HERE/"* ]]
}

stop_pid() { # pid what
    local pid=$1 _
    ours_pid "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 150); do
        [ -d "/proc/$pid" ] || return 0
        sleep 0.1
    done
    note "$2 (pid $pid) ignored SIGTERM for 15 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

remove_hosts_lines() {
    # In place (truncate and rewrite): /etc/hosts may be a bind mount, which a rename would fail on.
    if grep -qF "$MARK" /etc/hosts; then
        local kept
        kept=$(grep -vF "$MARK" /etc/hosts || true)
        printf '%s\n' "$kept" >/etc/hosts
    fi
}

# ---------------------------------------------------------------- setup

make_pki() {
    local d=$E2E/pki
    mkdir -p "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=docker-credential-ecr e2e CA" \
        -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$HOST" \
        -keyout "$d/leaf.key" -out "$d/leaf.csr" 2>/dev/null
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' \
        "DNS:$API_HOST,DNS:*.dkr.ecr.$REGION.amazonaws.com,DNS:$ANON_HOST,DNS:$LOGIN_HOST,IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3,IP:127.0.0.4" \
        >"$d/leaf.ext"
    openssl x509 -req -in "$d/leaf.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/leaf.ext" -out "$d/leaf.crt" 2>/dev/null
}

add_hosts_lines() {
    local api_ip=127.0.0.2
    [ "${E2E_API:-moto}" = fake ] && api_ip=127.0.0.3
    cp /etc/hosts "$E2E/hosts.orig"
    {
        echo "127.0.0.1 $HOST $OTHER_HOST $LOGIN_HOST $MARK"
        echo "$api_ip $API_HOST $MARK"
        echo "127.0.0.4 $ANON_HOST $MARK"
    } >>/etc/hosts
}

trust_ca() {
    grep -c 'BEGIN CERTIFICATE' /etc/ssl/certs/ca-certificates.crt >"$E2E/ca-count.orig" 2>/dev/null || echo 0 >"$E2E/ca-count.orig"
    cp "$E2E/pki/ca.crt" "$CA_DEST"
    touch "$E2E/state/ca-installed"
    update-ca-certificates >/dev/null 2>&1
}

start_endpoints() {
    local moto_args=()
    [ "${E2E_MOTO_FUTURE_EXPIRY:-0}" = 1 ] && moto_args=(--future-expiry)
    start_bg moto python3 "$HERE/moto_server.py" 127.0.0.2 443 "$E2E/pki/leaf.crt" "$E2E/pki/leaf.key" "${moto_args[@]}"
    start_bg fake python3 "$REPO/scripts/fake_ecr.py" 443 "$E2E/state/fake.calls" \
        --host 127.0.0.3 --tls "$E2E/pki/leaf.crt" "$E2E/pki/leaf.key" --log "$E2E/logs/fake-calls.log" --moto-token
    wait_tcp 127.0.0.2 443 moto
    wait_tcp 127.0.0.3 443 "fake endpoint"
}

start_registries() {
    local d=$E2E/registry
    mkdir -p "$d/data" "$d/anon-data"
    htpasswd -Bbc "$d/htpasswd" AWS "$TOKEN" 2>/dev/null
    htpasswd -Bb "$d/htpasswd" "$LOGIN_USER" "$LOGIN_PASSWORD" 2>/dev/null
    cat >"$d/config.yml" <<YML
version: 0.1
log: {level: info, formatter: text}
storage: {filesystem: {rootdirectory: $d/data}, delete: {enabled: true}}
http:
  addr: 127.0.0.1:443
  secret: e2e-not-secret
  tls: {certificate: $E2E/pki/leaf.crt, key: $E2E/pki/leaf.key}
auth:
  htpasswd: {realm: ecr-e2e, path: $d/htpasswd}
YML
    cat >"$d/anon.yml" <<YML
version: 0.1
log: {level: info, formatter: text}
storage: {filesystem: {rootdirectory: $d/anon-data}}
http:
  addr: 127.0.0.4:443
  secret: e2e-not-secret
  tls: {certificate: $E2E/pki/leaf.crt, key: $E2E/pki/leaf.key}
YML
    start_bg registry docker-registry serve "$d/config.yml"
    start_bg registry-anon docker-registry serve "$d/anon.yml"
    wait_tcp 127.0.0.1 443 registry
    wait_tcp 127.0.0.4 443 "anonymous registry"
    [ "$(curl -s -o /dev/null -w '%{http_code}' "https://$HOST/v2/")" = 401 ] ||
        die "the registry should demand credentials (see $E2E/logs/registry.log)"
    [ "$(curl -s -o /dev/null -w '%{http_code}' -u "AWS:$TOKEN" "https://$HOST/v2/")" = 200 ] ||
        die "the registry refused AWS:<token> (see $E2E/logs/registry.log)"
}

# A one-file OCI image layout in DIR, built without any daemon; every byte is fixed,
# so its digest is too. Prints the manifest digest.
make_image() {
    local d=$1 t
    t=$(mktemp -d "$E2E/tmp.XXXXXX")
    rm -rf "$d"
    mkdir -p "$d/blobs/sha256" "$t/src"
    printf 'hello from the docker-credential-ecr end-to-end suite\n' >"$t/src/hello.txt"
    chmod 0644 "$t/src/hello.txt"
    touch -d @0 "$t/src/hello.txt"
    tar --format=gnu --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
        -C "$t/src" -cf "$t/layer.tar" hello.txt
    gzip -n -9 -c "$t/layer.tar" >"$t/layer.tar.gz"
    # blob FILE: store it under its digest, print "sha256:<hex> <size>"
    blob() {
        local sum
        sum=$(sha256sum <"$1" | cut -d' ' -f1)
        cp "$1" "$d/blobs/sha256/$sum"
        echo "sha256:$sum $(stat -c %s "$1")"
    }
    local diff_id layer cfg manifest
    diff_id=sha256:$(sha256sum <"$t/layer.tar" | cut -d' ' -f1)
    read -r -a layer <<<"$(blob "$t/layer.tar.gz")"
    printf '{"architecture":"amd64","os":"linux","config":{"Labels":{"made-by":"docker-credential-ecr e2e"}},"rootfs":{"type":"layers","diff_ids":["%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"tests/e2e/e2e.sh"}]}' \
        "$diff_id" >"$t/config.json"
    read -r -a cfg <<<"$(blob "$t/config.json")"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
        "${cfg[0]}" "${cfg[1]}" "${layer[0]}" "${layer[1]}" >"$t/manifest.json"
    read -r -a manifest <<<"$(blob "$t/manifest.json")"
    printf '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"1"}}]}' \
        "${manifest[0]}" "${manifest[1]}" >"$d/index.json"
    rm -rf "$t"
    echo "${manifest[0]}"
}

start_dockerd() {
    local d=$E2E/docker
    mkdir -p "$d/data" "$d/exec"
    # deprecated-key-path: otherwise dockerd 20.10 writes /etc/docker/key.json.
    printf '{"deprecated-key-path": "%s/key.json", "log-level": "warn"}\n' "$d" >"$d/daemon.json"
    start_bg dockerd dockerd --config-file "$d/daemon.json" --storage-driver=vfs \
        --iptables=false --ip6tables=false --bridge=none \
        --data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/dockerd.pid" \
        -H "unix://$d/docker.sock"
    local _
    for _ in $(seq 300); do
        DOCKER_HOST="unix://$d/docker.sock" docker version >/dev/null 2>&1 && return 0
        ours_pid "$(cat "$E2E/pids/dockerd.pid")" || die "dockerd exited; see $E2E/logs/dockerd.log"
        sleep 0.2
    done
    die "dockerd did not answer in 60 s; see $E2E/logs/dockerd.log"
}

# Client configuration (credHelpers only), the logging wrapper, and the environment file.
write_client_config() {
    local helper=$1
    mkdir -p "$E2E/bin" "$E2E/docker-config" "$E2E/home" "$E2E/run" "$E2E/tmp" "$E2E/aws" \
        "$E2E/podman/root" "$E2E/podman/runroot" "$E2E/podman/tmp" "$E2E/go-cache"
    # AWS_ECR_CACHE_DIR (below, the Go helper's cache) is where our file state goes too.
    chmod 0700 "$E2E/run" "$E2E/go-cache"
    cat >"$E2E/docker-config/config.json" <<JSON
{
  "credHelpers": {
    "$HOST": "ecr-e2e",
    "$OTHER_HOST": "ecr-e2e",
    "$ANON_HOST": "ecr-e2e"
  }
}
JSON
    # The wrapper clients run: logs who called it, the action and the registry (never a
    # secret), runs the helper under test, and logs its exit status.
    cat >"$E2E/bin/docker-credential-ecr-e2e" <<'WRAP'
#!/bin/bash
# Logging wrapper for the e2e suite: docker/podman/skopeo run this through credHelpers.
action=${1:-}
input=""
case "$action" in get | erase | store | list) input=$(cat) ;; esac
case "$action" in
    get | erase) what=$input ;;
    store) what=$(printf %s "$input" | jq -r .ServerURL 2>/dev/null) ;;
    *) what="" ;;
esac
out=$(printf %s "$input" | "$E2E_HELPER_BIN" "$@")
rc=$?
[ -n "$out" ] && printf '%s\n' "$out"
why=""
[ "$rc" != 0 ] && why=$(printf %s "$out" | head -c 200 | tr '\n\t' '  ')
parent=$(cat "/proc/$PPID/comm" 2>/dev/null || echo "?")
printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date +%s.%N)" "$parent" "$action" "$what" "$rc" "$why" >>"$E2E_HELPER_LOG"
exit "$rc"
WRAP
    chmod 0755 "$E2E/bin/docker-credential-ecr-e2e"
    : >"$E2E/logs/helper-calls.log"

    cat >"$E2E/podman/containers.conf" <<CONF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$E2E/podman/events.log"
lock_type = "file"
tmp_dir = "$E2E/podman/tmp"
CONF
    cat >"$E2E/podman/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$E2E/podman/root"
runroot = "$E2E/podman/runroot"
CONF
    printf 'unqualified-search-registries = []\n' >"$E2E/podman/registries.conf"

    # Everything a case needs, in one file a person can also source to poke around.
    cat >"$E2E/env" <<ENV
# source this file to use the e2e setup by hand
export E2E_DIR='$E2E'
export E2E_HELPER_BIN='$helper'
export E2E_HELPER_LOG='$E2E/logs/helper-calls.log'
export PATH='$E2E/bin':"\$(dirname '$helper')":\$PATH
export HOME='$E2E/home' XDG_RUNTIME_DIR='$E2E/run' XDG_CONFIG_HOME='$E2E/home/.config' XDG_CACHE_HOME='$E2E/home/.cache'
export TMPDIR='$E2E/tmp'
export DOCKER_CONFIG='$E2E/docker-config' REGISTRY_AUTH_FILE='$E2E/docker-config/config.json'
export DOCKER_HOST='unix://$E2E/docker/docker.sock'
export CONTAINERS_CONF='$E2E/podman/containers.conf' CONTAINERS_STORAGE_CONF='$E2E/podman/storage.conf'
export CONTAINERS_REGISTRIES_CONF='$E2E/podman/registries.conf'
# Static test keys; no config or credentials files; no instance metadata.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_CONFIG_FILE='$E2E/aws/config' AWS_SHARED_CREDENTIALS_FILE='$E2E/aws/credentials'
export AWS_EC2_METADATA_DISABLED=true AWS_ECR_CACHE_DIR='$E2E/go-cache'
unset AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_SESSION_TOKEN AWS_CA_BUNDLE
unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_ECR AWS_ENDPOINT_URL_ECR_PUBLIC AWS_ENDPOINT_URL_STS
unset DOCKER_CREDENTIAL_ECR_DAEMON DOCKER_CREDENTIAL_ECR_LOG DOCKER_CREDENTIAL_ECR_CONFIG
# File cache under AWS_ECR_CACHE_DIR above, so nothing outlives the run (auto could pick
# the kernel keyring of the calling session).
export DOCKER_CREDENTIAL_ECR_CACHE=file
ENV
}

setup_preflight() {
    require_root
    require_tools
    if [ -d "$E2E/pids" ] && ls "$E2E"/pids/*.pid >/dev/null 2>&1; then
        die "$E2E holds a previous run; run: tests/e2e/e2e.sh teardown"
    fi
}

# Call setup_preflight first; on failure the caller tears down.
cmd_setup() {
    local helper
    helper=$(resolve_helper)
    rm -rf "$E2E"
    mkdir -p "$E2E/logs" "$E2E/pids" "$E2E/state"
    remove_hosts_lines # stale lines of an interrupted run, if any
    [ -e /var/lib/containers ] && touch "$E2E/state/had-var-lib-containers"
    local port
    for port in 127.0.0.1:443 127.0.0.2:443 127.0.0.3:443 127.0.0.4:443; do
        if ss -Hltn "src $port" 2>/dev/null | grep -q .; then die "$port is already in use"; fi
    done
    say "==> e2e setup in $E2E (helper: $helper)"
    make_pki
    add_hosts_lines
    trust_ca
    start_endpoints
    if [ "${E2E_REGISTRY:-1}" = 1 ]; then
        start_registries
        make_image "$E2E/image" >"$E2E/state/image.digest"
    fi
    [ "${E2E_DOCKERD:-1}" = 1 ] && start_dockerd
    write_client_config "$helper"
    say "==> e2e setup done: source $E2E/env to use it by hand"
}

# ---------------------------------------------------------------- teardown

cmd_teardown() {
    require_root
    [ -d "$E2E" ] || {
        remove_hosts_lines
        return 0
    }
    local f pid helper
    # Our helper's token daemon, if the cases started one (in the cases' environment).
    if [ -f "$E2E/env" ]; then
        helper=$(sed -n "s/^export E2E_HELPER_BIN='\(.*\)'$/\1/p" "$E2E/env")
        if [ -n "$helper" ] && [ "$(helper_kind "$helper")" = ours ]; then
            (
                # shellcheck source=/dev/null
                . "$E2E/env"
                pid=$("$helper" daemon status --json 2>/dev/null | jq -r '.pid // empty' 2>/dev/null || true)
                "$helper" daemon stop >/dev/null 2>&1 || true
                if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then
                    sleep 1
                    [ -d "/proc/$pid" ] && grep -qF "$E2E" "/proc/$pid/environ" 2>/dev/null && kill -KILL "$pid"
                fi
            ) || true
        fi
    fi
    # dockerd first (it stops its containerd), then the rest; each by the PID we recorded.
    for f in dockerd registry registry-anon moto fake blackhole; do
        [ -f "$E2E/pids/$f.pid" ] || continue
        stop_pid "$(cat "$E2E/pids/$f.pid")" "$f"
        rm -f "$E2E/pids/$f.pid"
    done
    # A containerd left behind by a dockerd that died.
    f=$E2E/docker/exec/containerd/containerd.pid
    [ -f "$f" ] && stop_pid "$(cat "$f")" containerd
    # dockerd bind-mounts its data root (and containerd its state) under E2E.
    local m
    awk -v d="$E2E" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" || note "could not unmount $m"
    done
    remove_hosts_lines
    if [ -f "$E2E/state/ca-installed" ]; then
        rm -f "$CA_DEST"
        update-ca-certificates >/dev/null 2>&1 || note "update-ca-certificates failed"
        rm -f "$E2E/state/ca-installed"
    fi
    [ -f "$E2E/state/had-var-lib-containers" ] || rm -rf /var/lib/containers
    # Check what we restored.
    local ok=1
    grep -qF "$MARK" /etc/hosts && { note "/etc/hosts still has our lines"; ok=0; }
    if [ -f "$E2E/hosts.orig" ] && ! cmp -s /etc/hosts "$E2E/hosts.orig"; then
        note "note: /etc/hosts differs from before setup (changed by someone else meanwhile?)"
    fi
    if [ -f "$E2E/ca-count.orig" ]; then
        local now
        now=$(grep -c 'BEGIN CERTIFICATE' /etc/ssl/certs/ca-certificates.crt 2>/dev/null || echo 0)
        [ "$now" = "$(cat "$E2E/ca-count.orig")" ] || { note "CA bundle has $now certificates, had $(cat "$E2E/ca-count.orig")"; ok=0; }
    fi
    for f in "$E2E"/pids/*.pid; do
        [ -f "$f" ] && { note "still recorded: $f"; ok=0; }
    done
    if [ "${1:-}" = --purge ]; then
        rm -rf "$E2E"
    fi
    [ "$ok" = 1 ] || die "teardown did not restore everything (see above)"
    say "==> e2e teardown done: processes stopped, /etc/hosts and the CA store restored"
}

cmd_status() {
    local f
    for f in "$E2E"/pids/*.pid; do
        [ -f "$f" ] || continue
        if ours_pid "$(cat "$f")"; then say "$(basename "$f" .pid): running (pid $(cat "$f"))"; else say "$(basename "$f" .pid): not running"; fi
    done
    grep -F "$MARK" /etc/hosts || true
}

# ---------------------------------------------------------------- test cases

# shellcheck source=SCRIPTDIR/cases.sh
. "$HERE/cases.sh"

cmd_all() {
    setup_preflight
    # Teardown must finish even when its output has nowhere to go (a closed pipe).
    trap 'trap "" PIPE; set +e; cmd_teardown >&2' EXIT
    trap 'exit 130' INT TERM HUP
    trap 'exit 141' PIPE
    cmd_setup
    local rc=0
    cmd_test || rc=$?
    trap - EXIT
    if [ "$rc" = 0 ]; then cmd_teardown --purge; else
        cmd_teardown || true
        note "logs kept in $E2E/logs and $E2E/cases"
    fi
    return "$rc"
}

main() {
    local cmd=${1:-}
    [ $# -gt 0 ] && shift
    case "$cmd" in
        install) cmd_install ;;
        setup)
            setup_preflight
            trap 'rc=$?; [ "$rc" = 0 ] || { note "setup failed; tearing down"; cmd_teardown || true; }' EXIT
            cmd_setup
            trap - EXIT
            ;;
        test) cmd_test ;;
        teardown) cmd_teardown "$@" ;;
        all) cmd_all ;;
        demo)
            if [ "${1:-}" = --helper ]; then export E2E_HELPER=${2:?--helper needs a path}; fi
            cmd_demo
            ;;
        status) cmd_status ;;
        *)
            sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
            [ -z "$cmd" ] || [ "$cmd" = -h ] || [ "$cmd" = --help ] || exit 2
            ;;
    esac
}

main "$@"
