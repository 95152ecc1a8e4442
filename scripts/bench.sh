#!/usr/bin/env bash
# Side-by-side benchmark of our helper and the Go helper (Debian's
# amazon-ecr-credential-helper), same machine, same run, same path to the API.
#
#   sudo scripts/bench.sh        # writes docs/benchmarks.md (numbers are never edited by hand)
#
# What it measures (hyperfine medians):
#   1. warm `get`: ours with each cache backend and through the daemon; Go with its warm file cache
#   2. cold `get`: one API call each (checked at the endpoint)
#   3. a legacy `docker build`'s credential pass: 20 credHelpers entries fetched in sequence (warm)
#   4. 64 parallel cold `get`s: wall time, and the API calls each run made
#   5. no credentials and a black-holed instance-metadata service: time to answer
#   6. peak RSS of a `get` (GNU time)
#
# Both helpers reach the API the same way: the Go helper (0.6.0) has no endpoint
# override, so tests/e2e/e2e.sh maps api.ecr.us-east-1.amazonaws.com in /etc/hosts to
# our fake endpoint (scripts/fake_ecr.py) serving TLS with a CA trusted system-wide for
# the run; the endpoint counts calls per client (User-Agent). Hence root. Everything is
# restored at the end. Not part of CI.
#
# Needs hyperfine, the Go helper, keyutils, dbus + gnome-keyring, GNU time, jq, openssl,
# python3 (as root on Debian it installs what is missing). BENCH_HELPER=path skips
# building our release binary with ./install.sh.

# shellcheck disable=SC2016 # the keyring rows' scripts expand their variables in their own shells
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-300}
WARMUP=${WARMUP:-30}
SLOW_RUNS=${SLOW_RUNS:-30} # cold and sequence rows
PAR_RUNS=${PAR_RUNS:-10}   # 64-parallel rows
OUT_DOC=${OUT_DOC:-docs/benchmarks.md}

[ "$(id -u)" = 0 ] || {
    echo "bench.sh: needs root (an /etc/hosts entry, a CA in the system store, port 443 on loopback; all restored)" >&2
    exit 1
}
need=()
for t in hyperfine docker-credential-ecr-login keyctl dbus-run-session gnome-keyring-daemon /usr/bin/time python3 jq openssl curl; do
    command -v "$t" >/dev/null 2>&1 || need+=("$t")
done
if [ ${#need[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 \
            hyperfine amazon-ecr-credential-helper keyutils dbus gnome-keyring time jq openssl curl >/dev/null
    else
        echo "bench.sh: missing ${need[*]}; install them (see the header)" >&2
        exit 1
    fi
fi
python3 -c 'import moto.server' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check 'moto[server]'

WORK=$(mktemp -d)
export E2E_DIR=$WORK/e2e E2E_API=fake E2E_REGISTRY=0 E2E_DOCKERD=0
if [ -n "${BENCH_HELPER:-}" ]; then
    OURS=$(readlink -f "$BENCH_HELPER")
    BUILT="given binary"
else
    echo "==> building and installing the release binary exactly as install.sh does"
    ./install.sh --prefix "$WORK/prefix" >/dev/null
    OURS="$WORK/prefix/bin/docker-credential-ecr"
    BUILT="release build installed by \`./install.sh\` (static, non-PIE on Linux/glibc)"
fi
GO=$(command -v docker-credential-ecr-login)
B=$WORK/bin
mkdir -p "$B"

cleanup() {
    set +e
    trap '' PIPE
    "$OURS" daemon stop >/dev/null 2>&1
    tests/e2e/e2e.sh teardown >&2
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

echo "==> hosts entry + TLS endpoint (tests/e2e/e2e.sh setup with E2E_API=fake)"
E2E_HELPER=$OURS tests/e2e/e2e.sh setup >/dev/null
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

HOST=123456789012.dkr.ecr.us-east-1.amazonaws.com
printf %s "$HOST" >"$WORK/host"
mkdir -p "$WORK/home" "$WORK/run" "$WORK/go" "$WORK/hosts20" "$WORK/aws"
chmod 0700 "$WORK/run"
: >"$WORK/aws/config"
: >"$WORK/aws/credentials"
for i in $(seq -w 1 20); do printf '1000000000%s.dkr.ecr.us-east-1.amazonaws.com' "$i" >"$WORK/hosts20/$i"; done
# One environment for both helpers; AWS_CA_BUNDLE is set only where a row says so.
export HOME="$WORK/home" XDG_RUNTIME_DIR="$WORK/run" XDG_CONFIG_HOME="$WORK/home/.config" XDG_CACHE_HOME="$WORK/home/.cache"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_CONFIG_FILE="$WORK/aws/config" AWS_SHARED_CREDENTIALS_FILE="$WORK/aws/credentials"
export AWS_EC2_METADATA_DISABLED=true AWS_ECR_CACHE_DIR="$WORK/go"
unset AWS_CA_BUNDLE AWS_PROFILE AWS_SESSION_TOKEN DOCKER_CREDENTIAL_ECR_LOG AWS_ECR_DISABLE_CACHE
unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_ECR DBUS_SESSION_BUS_ADDRESS
# Rows measure the direct path unless they say "daemon" or "default".
export DOCKER_CREDENTIAL_ECR_DAEMON=off DOCKER_CREDENTIAL_ECR_CACHE=auto
SYSTEM_BUNDLE=/etc/ssl/certs/ca-certificates.crt
export OURS GO WORK HOST

# API calls the endpoint has seen: all, ours (aws-sdk-rust), Go (aws-sdk-go-v2).
calls() { cat "$E2E_DIR/state/fake.calls" 2>/dev/null || echo 0; }
calls_by() { grep -c " $1/" "$E2E_DIR/logs/fake-calls.log" 2>/dev/null || true; }
expect_no_calls() { # before, what
    [ "$(calls)" = "$1" ] || {
        echo "bench.sh: $2 made $(($(calls) - $1)) API call(s); a warm row must make none" >&2
        exit 1
    }
}

# Small scripts hyperfine runs, so both helpers pay the same shell costs.
cat >"$B/seq20" <<'SH'
#!/bin/sh
# A legacy `docker build`: one get per credHelpers entry, one after another.
for f in "$WORK"/hosts20/*; do "$1" get <"$f" >/dev/null || exit 1; done
SH
cat >"$B/par64" <<'SH'
#!/bin/bash
# 64 gets at once for one registry; every one must succeed.
pids=()
for i in $(seq 64); do "$1" get <"$WORK/host" >"$WORK/par.$i" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || exit 1; done
SH
cat >"$B/cold-ours" <<'SH'
#!/bin/sh
# Make our next get cold: no daemon, no cached token for the benchmark's hosts.
"$OURS" daemon stop >/dev/null 2>&1
printf %s "$HOST" | "$OURS" erase
SH
cat >"$B/cold-go" <<'SH'
#!/bin/sh
# Make the Go helper's next get cold.
rm -f "$AWS_ECR_CACHE_DIR/cache.json"
SH
chmod +x "$B"/*

HF=(hyperfine --style none --warmup "$WARMUP" --runs "$RUNS")
HF_SLOW=(hyperfine --style none --warmup 3 --runs "$SLOW_RUNS")

echo "==> fill both caches through the endpoint (one call each, checked)"
"$OURS" get <"$WORK/host" | grep -q '"Secret"'
"$GO" get <"$WORK/host" | grep -q '"Secret"'
if [ "$(calls_by aws-sdk-rust)" != 1 ] || [ "$(calls_by aws-sdk-go-v2)" != 1 ]; then
    echo "bench.sh: expected one call per helper to fill the caches:" >&2
    cat "$E2E_DIR/logs/fake-calls.log" >&2
    exit 1
fi
AUTO=$("$OURS" status --json | jq -r .backend)

echo "==> 1. warm get: the default backend, the Go helper, a process baseline"
before=$(calls)
"${HF[@]}" --export-json "$WORK/warm.json" \
    -n "empty process (/bin/true)" "/bin/true < $WORK/host" \
    -n "ours, default (auto -> $AUTO)" "$OURS get < $WORK/host" \
    -n "Go helper, warm file cache" "$GO get < $WORK/host" \
    -n "ours, default, AWS_CA_BUNDLE set" "AWS_CA_BUNDLE=$SYSTEM_BUNDLE $OURS get < $WORK/host" \
    -n "Go helper, warm, AWS_CA_BUNDLE set" "AWS_CA_BUNDLE=$SYSTEM_BUNDLE $GO get < $WORK/host"
expect_no_calls "$before" "the warm rows"

echo "==> 1. warm get through the daemon"
"$OURS" daemon start >/dev/null
DOCKER_CREDENTIAL_ECR_DAEMON=required "$OURS" get <"$WORK/host" | grep -q '"Secret"'
# It starts warm from the cache the rows above used. `required`: a run the daemon
# does not answer fails instead of being timed.
DOCKER_CREDENTIAL_ECR_DAEMON=required "${HF[@]}" --export-json "$WORK/daemon.json" \
    -n "ours, through the daemon" "$OURS get < $WORK/host"
expect_no_calls "$before" "the daemon row"
"$OURS" daemon stop >/dev/null

echo "==> 1. warm get: keyutils (inside keyctl session), Secret Service (gnome-keyring under dbus-run-session)"
# keyutils tokens are also linked into the user's persistent keyring, which outlives
# the session: erase before (another run's token) and after (leave none behind).
keyctl session - bash -c '
    export DOCKER_CREDENTIAL_ECR_CACHE=keyutils
    "$OURS" erase < "$WORK/host"
    "$OURS" get < "$WORK/host" >/dev/null
    hyperfine --style none --warmup '"$WARMUP"' --runs '"$RUNS"' \
        --export-json "$WORK/keyutils.json" -n "ours, keyutils backend" "$OURS get < $WORK/host"
    "$OURS" erase < "$WORK/host"' >/dev/null
dbus-run-session -- bash -c '
    echo -n bench | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    DOCKER_CREDENTIAL_ECR_CACHE=keyring "$OURS" get < "$WORK/host" >/dev/null
    DOCKER_CREDENTIAL_ECR_CACHE=keyring hyperfine --style none --warmup '"$WARMUP"' --runs '"$RUNS"' \
        --export-json "$WORK/ss.json" -n "ours, Secret Service backend" "$OURS get < $WORK/host"' >/dev/null
[ "$(calls)" = "$((before + 2))" ] || { echo "bench.sh: expected exactly one fill per keyring backend, saw $(($(calls) - before)) calls" >&2; exit 1; }

# count_runs N PREPARE CMD...: API calls made by each of N runs of CMD after PREPARE.
count_runs() {
    local n=$1 prep=$2 out=() b
    shift 2
    for _ in $(seq "$n"); do
        "$prep" >/dev/null 2>&1
        b=$(calls)
        "$@" >/dev/null
        sleep 0.2 # a daemon started by the run may still be settling
        out+=($(($(calls) - b)))
    done
    echo "${out[*]}"
}

echo "==> 2. cold get (the cache emptied before each run; one API call each)"
"${HF_SLOW[@]}" --export-json "$WORK/cold.json" \
    --prepare "$B/cold-ours" -n "ours, cold, direct" "$OURS get < $WORK/host" \
    --prepare "$B/cold-ours" -n "ours, cold, default (starts the daemon)" "DOCKER_CREDENTIAL_ECR_DAEMON=auto $OURS get < $WORK/host" \
    --prepare "$B/cold-go" -n "Go helper, cold" "$GO get < $WORK/host"
get1() { "$1" get <"$WORK/host"; }
get1_auto() { DOCKER_CREDENTIAL_ECR_DAEMON=auto "$OURS" get <"$WORK/host"; }
{
    echo "ours, cold, direct: $(count_runs 5 "$B/cold-ours" get1 "$OURS")"
    echo "ours, cold, default (starts the daemon): $(count_runs 5 "$B/cold-ours" get1_auto)"
    echo "Go helper, cold: $(count_runs 5 "$B/cold-go" get1 "$GO")"
} >"$WORK/cold.calls"
"$OURS" daemon stop >/dev/null 2>&1 || true

echo "==> 3. a legacy docker build's credential pass: 20 credHelpers entries in sequence, warm"
for f in "$WORK"/hosts20/*; do
    "$OURS" get <"$f" >/dev/null
    "$GO" get <"$f" >/dev/null
done
before=$(calls)
"${HF_SLOW[@]}" --export-json "$WORK/seq20.json" \
    -n "ours, default, 20 in sequence" "$B/seq20 $OURS" \
    -n "Go helper, 20 in sequence" "$B/seq20 $GO"
"$OURS" daemon start >/dev/null
"$B/seq20" "$OURS" # the daemon loads the 20 tokens from the cache backend
DOCKER_CREDENTIAL_ECR_DAEMON=required "${HF_SLOW[@]}" --export-json "$WORK/seq20d.json" \
    -n "ours, through the daemon, 20 in sequence" "$B/seq20 $OURS"
"$OURS" daemon stop >/dev/null
expect_no_calls "$before" "the 20-entry rows"

echo "==> 4. 64 parallel cold gets"
P=(hyperfine --style none --warmup 1 --runs "$PAR_RUNS")
"${P[@]}" --export-json "$WORK/par64.json" \
    --prepare "$B/cold-ours" -n "ours, default (daemon auto), 64 parallel cold" "DOCKER_CREDENTIAL_ECR_DAEMON=auto $B/par64 $OURS" \
    --prepare "$B/cold-ours" -n "ours, daemon off, 64 parallel cold" "$B/par64 $OURS" \
    --prepare "$B/cold-go" -n "Go helper, 64 parallel cold" "$B/par64 $GO"
par_auto() { DOCKER_CREDENTIAL_ECR_DAEMON=auto "$B/par64" "$OURS"; }
{
    echo "ours, default (daemon auto), 64 parallel cold: $(count_runs 5 "$B/cold-ours" par_auto)"
    echo "ours, daemon off, 64 parallel cold: $(count_runs 5 "$B/cold-ours" "$B/par64" "$OURS")"
    echo "Go helper, 64 parallel cold: $(count_runs 5 "$B/cold-go" "$B/par64" "$GO")"
} >"$WORK/par64.calls"
"$OURS" daemon stop >/dev/null 2>&1 || true

echo "==> 5. no credentials, instance metadata black-holed (SYNs to 127.0.0.9:80 go unanswered)"
python3 "$PWD/tests/e2e/blackhole.py" 127.0.0.9 80 >/dev/null 2>&1 &
echo $! >"$E2E_DIR/pids/blackhole.pid"
sleep 0.5
NOCREDS=(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_EC2_METADATA_DISABLED
    AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.9:80/ DOCKER_CREDENTIAL_ECR_CACHE=none AWS_ECR_DISABLE_CACHE=1)
# Proof that a helper really waits on the black hole: while it runs, a SYN to it is pending.
tries_blackhole() {
    "$@" <"$WORK/host" >/dev/null 2>&1 &
    local pid=$! seen=1
    for _ in $(seq 60); do
        if ss -Htn state syn-sent 'dst 127.0.0.9' | grep -q .; then
            seen=0
            break
        fi
        sleep 0.05
    done
    wait "$pid" || true
    return "$seen"
}
tries_blackhole "${NOCREDS[@]}" "$OURS" get || { echo "bench.sh: ours never tried the black-holed IMDS" >&2; exit 1; }
tries_blackhole "${NOCREDS[@]}" "$GO" get || { echo "bench.sh: the Go helper never tried the black-holed IMDS" >&2; exit 1; }
# What each told the user, once.
rm -rf "$WORK/go/log"
"${NOCREDS[@]}" "$OURS" get <"$WORK/host" >"$WORK/nocreds-ours.out" 2>"$WORK/nocreds-ours.err" || true
"${NOCREDS[@]}" "$GO" get <"$WORK/host" >"$WORK/nocreds-go.out" 2>&1 || true
for f in ours go; do
    grep -q 'credentials not found in native keychain' "$WORK/nocreds-$f.out" ||
        { echo "bench.sh: without credentials, $f should answer not-found" >&2; exit 1; }
done
tail -1 "$WORK/nocreds-ours.err" >"$WORK/nocreds-ours.why"
grep 'level=error' "$WORK/go/log/ecr-login.log" | tail -1 | cut -c1-400 >"$WORK/nocreds-go.why"
hyperfine --style none --warmup 1 --runs 10 -i --export-json "$WORK/nocreds-ours.json" \
    -n "ours, no credentials, IMDS black-holed" "${NOCREDS[*]} $OURS get < $WORK/host" \
    -n "ours, default (daemon auto), no credentials, IMDS black-holed" "${NOCREDS[*]} DOCKER_CREDENTIAL_ECR_DAEMON=auto $OURS get < $WORK/host"
"$OURS" daemon stop >/dev/null 2>&1 || true
hyperfine --style none --warmup 0 --runs 3 -i --export-json "$WORK/nocreds-go.json" \
    -n "Go helper, no credentials, IMDS black-holed" "${NOCREDS[*]} timeout 300 $GO get < $WORK/host"

echo "==> 6. peak RSS (GNU time, median of 30)"
rss() { # prepare, then the command; the median max-RSS in KiB of 30 runs
    local prep=$1
    shift
    for _ in $(seq 30); do
        "$prep" >/dev/null 2>&1
        /usr/bin/time -f %M "$@" <"$WORK/host" 2>&1 >/dev/null | tail -1
    done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
"$OURS" get <"$WORK/host" >/dev/null
"$GO" get <"$WORK/host" >/dev/null
{
    echo "ours, warm, default ($AUTO)=$(rss true "$OURS" get)"
    echo "Go helper, warm=$(rss true "$GO" get)"
    "$OURS" daemon start >/dev/null
    echo "ours, warm, through the daemon=$(DOCKER_CREDENTIAL_ECR_DAEMON=required rss true "$OURS" get)"
    "$OURS" daemon stop >/dev/null
    echo "ours, cold, direct=$(rss "$B/cold-ours" "$OURS" get)"
    echo "Go helper, cold=$(rss "$B/cold-go" "$GO" get)"
} >"$WORK/rss.txt"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

python3 scripts/bench_report.py "$OUT_DOC" "$WORK" \
    "$("$OURS" version)" "$("$GO" -v | sed -n 2p | tr -s ' ')" "$(hyperfine --version)" "$BUILT" \
    "$RUNS" "$SLOW_RUNS" "$PAR_RUNS" "$LOAD_START" "$LOAD_END"
