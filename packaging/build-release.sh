#!/bin/sh
# Release build without Docker: a static binary, a tarball and a .deb.
#
#   packaging/build-release.sh                 # release profile, host target
#   packaging/build-release.sh --profile dev   # what CI runs (reuses the test build)
#
# Outputs in dist/:
#   docker-credential-ecr-<version>-<target>.tar.gz (+ .sha256): usr/bin, man pages,
#       completions, systemd user units, docs; unpack into / or any prefix
#   docker-credential-ecr_<version>-1_<arch>.deb (+ .sha256): the same tree, via cargo-deb
#
# On Linux/glibc the binary is static and not PIE (build.rs does it), so it runs
# on any Linux of the same architecture, in an empty chroot too.
set -eu
cd "$(dirname "$0")/.."

PROFILE=release
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) PROFILE=${2:?--profile needs a name}; shift 2 ;;
        *) echo "build-release.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
TARGET=$(rustc -vV | sed -n 's/^host: //p')
STAGE=target/pkg/root
rm -rf target/pkg
mkdir -p "$STAGE" dist

echo "==> staging into $STAGE"
# install.sh builds (static on glibc) and installs binary, man pages and completions.
PREFIX="$PWD/$STAGE/usr" ./install.sh --profile "$PROFILE" >/dev/null
install -Dm0644 packaging/systemd/docker-credential-ecr.service "$STAGE/usr/lib/systemd/user/docker-credential-ecr.service"
install -Dm0644 packaging/systemd/docker-credential-ecr.socket "$STAGE/usr/lib/systemd/user/docker-credential-ecr.socket"
install -Dm0644 README.md "$STAGE/usr/share/doc/docker-credential-ecr/README.md"
if [ -d packaging/kubelet ]; then
    for f in packaging/kubelet/*; do
        install -Dm0644 "$f" "$STAGE/usr/share/doc/docker-credential-ecr/examples/kubelet/$(basename "$f")"
    done
fi

NAME="docker-credential-ecr-$VERSION-$TARGET"
echo "==> dist/$NAME.tar.gz"
tar -C "$STAGE" --sort=name --owner=0 --group=0 --numeric-owner -czf "dist/$NAME.tar.gz" usr
(cd dist && sha256sum "$NAME.tar.gz" >"$NAME.tar.gz.sha256")

if command -v cargo-deb >/dev/null 2>&1; then
    echo "==> .deb (cargo-deb)"
    # Assets come from the staged tree (see [package.metadata.deb] in Cargo.toml).
    deb=$(cargo deb --no-build --no-strip --output dist 2>&1 | tail -1)
    (cd dist && sha256sum "$(basename "$deb")" >"$(basename "$deb").sha256")
    echo "$deb"
else
    echo "note: cargo-deb is not installed (cargo install cargo-deb); skipped the .deb"
fi
