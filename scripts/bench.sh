#!/usr/bin/env bash
# Side-by-side benchmark of our helper and the Go helper (Debian's
# amazon-ecr-credential-helper), same machine, same run, same path to the API.
#
#   sudo scripts/bench.sh        # writes docs/benchmarks.md (numbers are never edited by hand)
#
# What it measures (hyperfine medians):
#   0. every build route, built here: `./install.sh` (and so the .deb, which packs what
#      install.sh builds), plain `cargo build --release`, `cargo install --path .` (and so
#      the Homebrew formula, which runs it), plus the link opt-outs build.rs offers;
#      for each distinct binary: size, link, clean build time, warm and cold `get`
#      (wall, CPU, page faults, peak RSS) beside the Go helper's
#   1. warm `get`: ours with each cache backend and through the daemon; Go with its warm file cache
#   2. cold `get`: one API call each (checked at the endpoint)
#   3. a legacy `docker build`'s credential pass: 20 credHelpers entries fetched in sequence (warm)
#   4. 64 parallel cold `get`s: wall time, and the API calls each run made
#   5. no credentials and a black-holed instance-metadata service: time to answer
#   6. peak RSS of a `get` (GNU time)
#   7. the daemon: idle RSS, and the CPU one fetch (what a refresh runs) costs it
#
# Both helpers reach the API the same way: the Go helper (0.6.0) has no endpoint
# override, so tests/e2e/e2e.sh maps api.ecr.us-east-1.amazonaws.com in /etc/hosts to
# our fake endpoint (scripts/fake_ecr.py) serving TLS with a CA trusted system-wide for
# the run; the endpoint counts calls per client (User-Agent). Hence root. Everything is
# restored at the end. Not part of CI.
#
# Needs hyperfine, the Go helper, keyutils, dbus + gnome-keyring, GNU time, jq, openssl,
# python3, binutils (as root on Debian it installs what is missing).
#
# Knobs (every row stays in the document; a shortened one says so):
#   RUNS, WARMUP, SLOW_RUNS, PAR_RUNS, FAULT_RUNS, ROUNDS   repetitions (see below)
#   CLEAN_BUILDS=0   build into the usual target directory instead of fresh ones; build
#                    times are then not clean and the document says "not measured"
#   VARIANTS=0       skip the link opt-outs (DOCKER_CREDENTIAL_ECR_LINK=no-pie, =default)
#   BUILD_NICE=N     run the builds under `nice -n N` (a machine shared with other work)
#   BENCH_HELPER=path  measure that binary only: no builds (one route row: that binary)
#   BENCH_KEEP=1     keep the work directory (raw results) for a look afterwards

# shellcheck disable=SC2016 # the keyring rows' scripts expand their variables in their own shells
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-300}
WARMUP=${WARMUP:-30}
SLOW_RUNS=${SLOW_RUNS:-30} # cold and sequence rows
PAR_RUNS=${PAR_RUNS:-10}   # 64-parallel rows
FAULT_RUNS=${FAULT_RUNS:-30} # GNU time runs per peak-RSS figure of a build route
CLEAN_BUILDS=${CLEAN_BUILDS:-1}
VARIANTS=${VARIANTS:-1}
BUILD_NICE=${BUILD_NICE:-0}
OUT_DOC=${OUT_DOC:-docs/benchmarks.md}

[ "$(id -u)" = 0 ] || {
    echo "bench.sh: needs root (an /etc/hosts entry, a CA in the system store, port 443 on loopback; all restored)" >&2
    exit 1
}
need=()
for t in hyperfine docker-credential-ecr-login keyctl dbus-run-session gnome-keyring-daemon /usr/bin/time python3 jq openssl curl readelf; do
    command -v "$t" >/dev/null 2>&1 || need+=("$t")
done
if [ ${#need[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 \
            hyperfine amazon-ecr-credential-helper keyutils dbus gnome-keyring time jq openssl curl binutils >/dev/null
    else
        echo "bench.sh: missing ${need[*]}; install them (see the header)" >&2
        exit 1
    fi
fi
python3 -c 'import moto.server' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check 'moto[server]'

WORK=$(mktemp -d)
export E2E_DIR=$WORK/e2e E2E_API=fake E2E_REGISTRY=0 E2E_DOCKERD=0
cleanup() {
    set +e
    trap '' PIPE
    if [ -n "${OURS:-}" ]; then "$OURS" daemon stop >/dev/null 2>&1; fi
    if [ -n "${SET_UP:-}" ]; then tests/e2e/e2e.sh teardown >&2; fi
    if [ -n "${BENCH_KEEP:-}" ]; then echo "bench.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
R=$WORK/routes
mkdir -p "$R"
: >"$R/list"
# route NAME BINARY HOW BUILD_TIME_FILE: one way users get the binary.
route() {
    mkdir -p "$R/$1"
    cp "$2" "$R/$1/docker-credential-ecr"
    printf '%s\n' "$3" >"$R/$1/how"
    if [ -s "$4" ]; then cp "$4" "$R/$1/build"; fi
    echo "$1" >>"$R/list"
}
# timed FILE CMD...: the build's wall, user and system seconds into FILE.
timed() {
    local out=$1
    shift
    /usr/bin/time -o "$out" -f '%e %U %S' nice -n "$BUILD_NICE" "$@"
}
if [ -n "${BENCH_HELPER:-}" ]; then
    OURS=$(readlink -f "$BENCH_HELPER")
    BUILT="given binary"
    route given "$OURS" "BENCH_HELPER=$BENCH_HELPER" /dev/null
else
    if [ "$CLEAN_BUILDS" = 1 ]; then
        T=$WORK/target # a fresh target directory: a clean build
        CI_TARGET=$WORK/cargo-install-target
    else
        T=${CARGO_TARGET_DIR:-$PWD/target}
        CI_TARGET=$T
    fi
    echo "==> route: ./install.sh (CARGO_TARGET_DIR=$T)"
    CARGO_TARGET_DIR=$T timed "$WORK/build.install" ./install.sh --prefix "$WORK/prefix" >/dev/null
    OURS="$WORK/prefix/bin/docker-credential-ecr"
    BUILT="release build installed by \`./install.sh\`"
    route install.sh "$OURS" "\`./install.sh\`" "$WORK/build.install"
    echo "==> route: cargo build --release (same target directory: cargo decides whether anything is left to build)"
    CARGO_TARGET_DIR=$T timed "$WORK/build.plain" cargo build --release --locked --quiet
    route cargo-build "$T/release/docker-credential-ecr" "\`cargo build --release\`" "$WORK/build.plain"
    echo "==> route: packaging/build-release.sh (the tarball and the .deb pack this staged binary)"
    PATH="$PWD/target/tools/bin:$PATH" CARGO_TARGET_DIR=$T timed "$WORK/build.deb" packaging/build-release.sh >/dev/null
    route deb target/pkg/root/usr/bin/docker-credential-ecr "\`packaging/build-release.sh\` (tarball, .deb)" "$WORK/build.deb"
    echo "==> route: cargo install --path . (its own target directory; the Homebrew formula runs this)"
    CARGO_TARGET_DIR=$CI_TARGET timed "$WORK/build.cargo-install" \
        cargo install --locked --quiet --path . --root "$WORK/cargo-install"
    route cargo-install "$WORK/cargo-install/bin/docker-credential-ecr" \
        "\`cargo install --path .\` (Homebrew: \`cargo install *std_cargo_args\`)" "$WORK/build.cargo-install"
    if [ "$VARIANTS" = 1 ]; then
        echo "==> link opt-outs: DOCKER_CREDENTIAL_ECR_LINK=no-pie (./install.sh --dynamic), =default (rustc's dynamic PIE)"
        CARGO_TARGET_DIR=$T DOCKER_CREDENTIAL_ECR_LINK=no-pie timed "$WORK/build.no-pie" cargo build --release --locked --quiet
        route no-pie "$T/release/docker-credential-ecr" \
            "\`DOCKER_CREDENTIAL_ECR_LINK=no-pie\` (\`./install.sh --dynamic\`): dynamic, not PIE" "$WORK/build.no-pie"
        CARGO_TARGET_DIR=$T DOCKER_CREDENTIAL_ECR_LINK=default timed "$WORK/build.pie" cargo build --release --locked --quiet
        route pie "$T/release/docker-credential-ecr" \
            "\`DOCKER_CREDENTIAL_ECR_LINK=default\`: rustc's dynamic PIE (what every route built before build.rs)" "$WORK/build.pie"
    fi
fi
# What each route's binary is; routes with identical bytes are measured once.
while read -r name; do
    bin=$R/$name/docker-credential-ecr
    sha256sum "$bin" | cut -c1-16 >"$R/$name/sha"
    stat -c %s "$bin" >"$R/$name/size"
    {
        readelf -h "$bin" | sed -n 's/^ *Type: *\([A-Z]*\).*/\1/p'
        if readelf -l "$bin" | grep -q INTERP; then echo dynamic; else echo static; fi
        readelf -r "$bin" | grep -c RELATIVE || true
    } | paste -sd' ' >"$R/$name/link"
done <"$R/list"
GO=$(command -v docker-credential-ecr-login)
B=$WORK/bin
mkdir -p "$B"


LOAD_BUILD=$(cut -d' ' -f1-3 /proc/loadavg)
echo "==> hosts entry + TLS endpoint (tests/e2e/e2e.sh setup with E2E_API=fake)"
SET_UP=1
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
# $1: the binary (a build route's); ours by default.
"${1:-$OURS}" daemon stop >/dev/null 2>&1
printf %s "$HOST" | "${1:-$OURS}" erase
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

# rss PREPARE CMD...: the median peak RSS (KiB, GNU time) of FAULT_RUNS runs of CMD after PREPARE.
# (bench_spawn.py's children start from python's address space, which their peak RSS would count.)
rss_of() {
    local prep=$1
    shift
    for _ in $(seq "$FAULT_RUNS"); do
        $prep >/dev/null 2>&1
        /usr/bin/time -f %M "$@" <"$WORK/host" 2>&1 >/dev/null | tail -1
    done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

echo "==> 0. every build route against the Go helper: warm and cold get (wall, CPU, page faults, peak RSS)"
# One binary per distinct build (routes with identical bytes share it).
: >"$R/measured"
while read -r name; do
    sha=$(cat "$R/$name/sha")
    first=$(while read -r n; do if [ "$(cat "$R/$n/sha")" = "$sha" ]; then echo "$n"; break; fi; done <"$R/list")
    if [ "$first" = "$name" ]; then echo "$name" >>"$R/measured"; fi
    echo "$first" >"$R/$name/same-as"
done <"$R/list"
# spawn OUT RUNS WARMUP [--prepare CMD] -- CMD...: per-run wall, CPU, faults (scripts/bench_spawn.py)
spawn() {
    local out=$1
    shift
    python3 scripts/bench_spawn.py "$@" >"$out"
}
# Ours and Go's runs alternate in ROUNDS rounds, so a change in the machine's load
# between them (it is shared) cannot favour one side.
ROUNDS=${ROUNDS:-3}
before=$(calls)
while read -r name; do "$R/$name/docker-credential-ecr" get <"$WORK/host" >/dev/null; done <"$R/measured"
"$GO" get <"$WORK/host" >/dev/null
for round in $(seq "$ROUNDS"); do
    while read -r name; do
        bin=$R/$name/docker-credential-ecr
        spawn "$R/$name/warm.$round.json" $((RUNS / ROUNDS)) $((WARMUP / ROUNDS)) "$WORK/host" -- "$bin" get
    done <"$R/measured"
    spawn "$WORK/go-warm.$round.json" $((RUNS / ROUNDS)) $((WARMUP / ROUNDS)) "$WORK/host" -- "$GO" get
done
expect_no_calls "$before" "the warm route rows"
for round in $(seq "$ROUNDS"); do
    while read -r name; do
        bin=$R/$name/docker-credential-ecr
        spawn "$R/$name/cold.$round.json" $((SLOW_RUNS / ROUNDS)) 1 "$WORK/host" --prepare "$B/cold-ours $bin" -- "$bin" get
    done <"$R/measured"
    spawn "$WORK/go-cold.$round.json" $((SLOW_RUNS / ROUNDS)) 1 "$WORK/host" --prepare "$B/cold-go" -- "$GO" get
done
while read -r name; do
    bin=$R/$name/docker-credential-ecr
    "$bin" get <"$WORK/host" >/dev/null
    rss_of true "$bin" get >"$R/$name/warm.rss"
    rss_of "$B/cold-ours $bin" "$bin" get >"$R/$name/cold.rss"
done <"$R/measured"
"$GO" get <"$WORK/host" >/dev/null
rss_of true "$GO" get >"$WORK/go-warm.rss"
rss_of "$B/cold-go" "$GO" get >"$WORK/go-cold.rss"
stat -L -c %s "$GO" >"$WORK/go.size"
"$OURS" get <"$WORK/host" >/dev/null

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
echo "==> 7. the daemon: idle RSS, and the CPU of one fetch (what a refresh runs: a fetch child)"
"$OURS" daemon stop >/dev/null 2>&1 || true
"$OURS" daemon start >/dev/null
DOCKER_CREDENTIAL_ECR_DAEMON=required "$OURS" get <"$WORK/host" >/dev/null
DPID=$("$OURS" daemon status --json | jq -r .pid)
sleep 2
grep VmRSS "/proc/$DPID/status" | awk '{print $2}' >"$WORK/daemon.idle-rss"
# CPU the daemon and its reaped children used (clock ticks: utime stime cutime cstime).
ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$DPID/stat"; }
N_FETCH=20
before=$(calls)
t0=$(ticks)
for i in $(seq 1 "$N_FETCH"); do
    # An account the daemon has never seen: a miss, one fetch child, one API call.
    printf '20000000%04d.dkr.ecr.us-east-1.amazonaws.com' "$i" |
        DOCKER_CREDENTIAL_ECR_DAEMON=required "$OURS" get >/dev/null
done
sleep 0.5
t1=$(ticks)
echo "$N_FETCH $((t1 - t0)) $(getconf CLK_TCK) $(($(calls) - before))" >"$WORK/daemon.fetch"
grep VmRSS "/proc/$DPID/status" | awk '{print $2}' >"$WORK/daemon.rss-after"
"$OURS" daemon stop >/dev/null
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

python3 scripts/bench_report.py "$OUT_DOC" "$WORK" \
    "$("$OURS" version)" "$("$GO" -v | sed -n 2p | tr -s ' ')" "$(hyperfine --version)" "$BUILT" \
    "$RUNS" "$SLOW_RUNS" "$PAR_RUNS" "$LOAD_START" "$LOAD_END" "$FAULT_RUNS" "$CLEAN_BUILDS" "$BUILD_NICE" \
    "$LOAD_BUILD"
