#!/bin/sh
# See docker-credential-ecr do its job, with no AWS account: on this machine it
# brings up a real registry that wants ECR credentials and moto as the ECR API,
# pushes and pulls an image with docker, skopeo and podman through the helper,
# shows the helper's token cache before and after, then removes everything.
#
#   scripts/demo.sh [--helper PATH]
#
# Needs root (it binds :443 on loopback, adds lines to /etc/hosts, trusts a
# throwaway CA and runs its own dockerd; all of it is undone at the end) and
# Debian or Ubuntu for the packages it installs when missing. The helper is
# --helper, else docker-credential-ecr on PATH (as ./install.sh puts it), else
# it is built from this checkout.
set -eu
cd "$(dirname "$0")/.."
helper=""
case "${1:-}" in
    --helper) helper=${2:?--helper needs a path} ;;
    --helper=*) helper=${1#--helper=} ;;
    "") ;;
    *) echo "usage: scripts/demo.sh [--helper PATH]" >&2; exit 2 ;;
esac
[ -n "$helper" ] || helper=$(command -v docker-credential-ecr 2>/dev/null || true)
if [ "$(id -u)" != 0 ]; then
    echo "demo: it needs root for :443, /etc/hosts, the CA store and dockerd; asking sudo" >&2
    exec sudo "$(pwd)/tests/e2e/e2e.sh" demo ${helper:+--helper "$helper"}
fi
exec tests/e2e/e2e.sh demo ${helper:+--helper "$helper"}
