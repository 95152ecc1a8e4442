#!/bin/sh
# Build docker-credential-ecr from this checkout and install it into a prefix.
#
#   ./install.sh                              # -> ~/.local/bin, prints the config line to add
#   ./install.sh --configure 123456789012.dkr.ecr.us-east-1.amazonaws.com
#                                             # ... and adds it to ~/.docker/config.json
#   PREFIX=/usr/local sudo -E ./install.sh    # root only if the prefix needs it
#   ./install.sh --uninstall                  # undo all of it
#
# Installs the binary, its man page and shell completions. Idempotent: running
# it again rebuilds if needed and replaces the binary atomically.
set -eu

PREFIX=${PREFIX:-"$HOME/.local"}
PROFILE=release
CONFIGURE=""
STATIC=1
COMPAT=0
UNINSTALL=0

usage() {
    cat <<USAGE
Usage: ./install.sh [--prefix DIR] [--configure HOST]... [--profile release|dev]
                    [--compat-login] [--dynamic]
       ./install.sh [--prefix DIR] --uninstall

  --prefix DIR      install into DIR/bin, DIR/share/man, DIR/share/<shell
                    completions> (default: \$PREFIX or ~/.local)
  --configure HOST  add a credHelpers entry for this ECR registry to docker's
                    config.json (\$DOCKER_CONFIG or ~/.docker); repeatable
  --compat-login    also install the name docker-credential-ecr-login, so
                    configs written for the Go helper ("ecr-login") use this one
  --profile NAME    cargo profile to build (default: release; CI uses dev to
                    reuse its test build)
  --dynamic         on Linux/glibc, link dynamically instead of statically
                    (the same as DOCKER_CREDENTIAL_ECR_LINK=no-pie; see build.rs)
  --uninstall       stop the daemon, erase cached tokens, undo what configure
                    added, and remove everything this script installed

On Linux with glibc the binary is linked statically and not as PIE (build.rs
does this for every build route, cargo install included): 'get' runs thousands
of times a day and this halves its start-up (no dynamic loader, no
relocations). Host names are still resolved through /etc/hosts and DNS (built
into glibc >= 2.34); use --dynamic if you rely on other NSS modules.
The build honours CARGO_TARGET_DIR and cargo's other settings.
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
        --compat-login) COMPAT=1; shift ;;
        --uninstall) UNINSTALL=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

BIN_DIR="$PREFIX/bin"
BIN="$BIN_DIR/docker-credential-ecr"
MAN_DIR="$PREFIX/share/man/man1"
BASH_COMPLETION="$PREFIX/share/bash-completion/completions/docker-credential-ecr"
ZSH_COMPLETION="$PREFIX/share/zsh/site-functions/_docker-credential-ecr"
FISH_COMPLETION="$PREFIX/share/fish/vendor_completions.d/docker-credential-ecr.fish"
COMPAT_LINK="$BIN_DIR/docker-credential-ecr-login"

if [ "$UNINSTALL" = 1 ]; then
    if [ -x "$BIN" ]; then
        echo "==> stopping the daemon and erasing cached tokens"
        "$BIN" daemon stop >/dev/null 2>&1 || true
        # Each cached registry, every identity: tokens must not outlive the tool.
        "$BIN" status --json 2>/dev/null | tr ',' '\n' | sed -n 's/.*"registry": *"\([^"]*\)".*/\1/p' |
            sort -u | while read -r host; do printf '%s' "$host" | "$BIN" erase || true; done
        echo "==> undoing what configure added"
        "$BIN" configure --remove --podman || true
        # The binary names its own man pages; remove exactly those.
        pages=$(mktemp -d)
        if "$BIN" manpage --out-dir "$pages"; then
            for page in "$pages"/*.1; do rm -f "$MAN_DIR/$(basename "$page")"; done
        fi
        rm -rf "$pages"
    fi
    # The compatibility name is ours only if it points at our binary.
    if [ -L "$COMPAT_LINK" ] && [ "$(readlink "$COMPAT_LINK")" = docker-credential-ecr ]; then
        rm -f "$COMPAT_LINK"
    fi
    rm -f "$BIN" "$BASH_COMPLETION" "$ZSH_COMPLETION" "$FISH_COMPLETION"
    echo "==> removed docker-credential-ecr from $PREFIX"
    exit 0
fi

case "$PROFILE" in
    release|dev) ;;
    *) echo "install.sh: --profile must be release or dev" >&2; exit 2 ;;
esac

if ! command -v cargo >/dev/null 2>&1; then
    echo "install.sh: cargo not found; install the Rust toolchain (https://rustup.rs) first" >&2
    exit 1
fi

cd "$(dirname "$0")"
# On Linux/glibc build.rs links the binary statically and not as PIE, for every
# way of building it; --dynamic asks it for a dynamic (still non-PIE) link.
if [ "$STATIC" = 0 ]; then
    DOCKER_CREDENTIAL_ECR_LINK=no-pie
    export DOCKER_CREDENTIAL_ECR_LINK
fi
echo "==> building docker-credential-ecr ($PROFILE)"
# Cargo says where it put the binary: CARGO_TARGET_DIR, build.target-dir and
# the profile's directory are its business, not ours.
BUILT=$(cargo build --locked --profile "$PROFILE" --bin docker-credential-ecr \
    --message-format=json-render-diagnostics |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
if [ -z "$BUILT" ] || [ ! -x "$BUILT" ]; then
    echo "install.sh: cargo build failed (or did not report the binary it built)" >&2
    exit 1
fi

mkdir -p "$BIN_DIR"
# Copy then rename: a docker pull running the old binary is never handed a half-written file.
TMP="$BIN_DIR/.docker-credential-ecr.$$"
cp "$BUILT" "$TMP"
chmod 0755 "$TMP"
mv -f "$TMP" "$BIN"
echo "==> installed $("$BIN" version) to $BIN_DIR"

# Generated from the CLI definition, so they never drift from the binary.
install_generated() { # FILE COMMAND...
    file=$1; shift
    mkdir -p "$(dirname "$file")"
    "$@" >"$file.tmp" && chmod 0644 "$file.tmp" && mv -f "$file.tmp" "$file"
}
mkdir -p "$MAN_DIR"
"$BIN" manpage --out-dir "$MAN_DIR"
install_generated "$BASH_COMPLETION" "$BIN" completions bash
install_generated "$ZSH_COMPLETION" "$BIN" completions zsh
install_generated "$FISH_COMPLETION" "$BIN" completions fish
echo "==> installed the man pages and bash, zsh and fish completions under $PREFIX/share"

if [ "$COMPAT" = 1 ]; then
    ln -sfn docker-credential-ecr "$COMPAT_LINK"
    echo "==> $COMPAT_LINK -> docker-credential-ecr: configs naming \"ecr-login\" now use this helper"
fi

case ":$PATH:" in
    *":$BIN_DIR:"*) ;;
    *) echo "note: $BIN_DIR is not on PATH; docker looks the helper up there: add it, e.g. export PATH=\"$BIN_DIR:\$PATH\"" ;;
esac

if [ -n "$CONFIGURE" ]; then
    set --
    for host in $CONFIGURE; do set -- "$@" --registry "$host"; done
    "$BIN" configure "$@"
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
