#!/bin/sh
# Build docker-credential-ecr from this checkout and install it into a prefix.
#
#   ./install.sh                              # -> ~/.local/bin, prints the config line to add
#   ./install.sh --configure 123456789012.dkr.ecr.us-east-1.amazonaws.com
#                                             # ... and adds it to ~/.docker/config.json
#   PREFIX=/usr/local sudo -E ./install.sh    # root only if the prefix needs it
#
# Idempotent: running it again rebuilds if needed and replaces the binary atomically.
set -eu

PREFIX=${PREFIX:-"$HOME/.local"}
PROFILE=release
CONFIGURE=""
STATIC=1

usage() {
    cat <<USAGE
Usage: ./install.sh [--prefix DIR] [--configure HOST]... [--profile release|dev]

  --prefix DIR      install into DIR/bin (default: \$PREFIX or ~/.local)
  --configure HOST  add a credHelpers entry for this ECR registry to docker's
                    config.json (\$DOCKER_CONFIG or ~/.docker); repeatable
  --profile NAME    cargo profile to build (default: release; CI uses dev to
                    reuse its test build)
  --dynamic         on Linux/glibc, link dynamically instead of statically

On Linux with glibc the binary is linked statically and not as PIE:
'get' runs thousands of times a day and this halves its start-up (no dynamic
loader, no relocations). Host names are still resolved through /etc/hosts and
DNS (built into glibc >= 2.34); use --dynamic if you rely on other NSS modules.
USAGE
}

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
        --prefix=*) PREFIX=${1#--prefix=}; shift ;;
        --configure) CONFIGURE="$CONFIGURE ${2:?--configure needs a registry host}"; shift 2 ;;
        --configure=*) CONFIGURE="$CONFIGURE ${1#--configure=}"; shift ;;
        --profile) PROFILE=${2:?--profile needs a name}; shift 2 ;;
        --profile=*) PROFILE=${1#--profile=}; shift ;;
        --dynamic) STATIC=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

case "$PROFILE" in
    release) OUT=release ;;
    dev) OUT=debug ;;
    *) echo "install.sh: --profile must be release or dev" >&2; exit 2 ;;
esac

if ! command -v cargo >/dev/null 2>&1; then
    echo "install.sh: cargo not found; install the Rust toolchain (https://rustup.rs) first" >&2
    exit 1
fi

cd "$(dirname "$0")"
HOST_TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
if [ "$STATIC" = 1 ] && case "$HOST_TRIPLE" in *-linux-gnu) true ;; *) false ;; esac; then
    # An explicit --target keeps these flags off build scripts and proc macros.
    echo "==> building docker-credential-ecr ($PROFILE, static, $HOST_TRIPLE)"
    RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C relocation-model=static" \
        cargo build --locked --profile "$PROFILE" --target "$HOST_TRIPLE" --bin docker-credential-ecr
    OUT="$HOST_TRIPLE/$OUT"
else
    echo "==> building docker-credential-ecr ($PROFILE)"
    cargo build --locked --profile "$PROFILE" --bin docker-credential-ecr
fi

BIN_DIR="$PREFIX/bin"
mkdir -p "$BIN_DIR"
# Copy then rename: a docker pull running the old binary is never handed a half-written file.
TMP="$BIN_DIR/.docker-credential-ecr.$$"
cp "target/$OUT/docker-credential-ecr" "$TMP"
chmod 0755 "$TMP"
mv -f "$TMP" "$BIN_DIR/docker-credential-ecr"
echo "==> installed $("$BIN_DIR/docker-credential-ecr" version) to $BIN_DIR"

case ":$PATH:" in
    *":$BIN_DIR:"*) ;;
    *) echo "note: $BIN_DIR is not on PATH; docker looks the helper up there: add it, e.g. export PATH=\"$BIN_DIR:\$PATH\"" ;;
esac

if [ -n "$CONFIGURE" ]; then
    set --
    for host in $CONFIGURE; do set -- "$@" --registry "$host"; done
    "$BIN_DIR/docker-credential-ecr" configure "$@"
else
    cat <<SNIPPET

Add your registries to ~/.docker/config.json (or rerun with --configure HOST):

  {
    "credHelpers": {
      "<account>.dkr.ecr.<region>.amazonaws.com": "ecr",
      "public.ecr.aws": "ecr"
    }
  }
SNIPPET
fi
