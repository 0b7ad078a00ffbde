#!/bin/sh
# Install the Debian packages that attn's build, tests and demo need. Idempotent: it checks
# first and calls apt-get only for what is missing. Without root it prints the command to run.
set -eu

PACKAGES="
build-essential
pkg-config
libcriterion-dev
python3
python3-numpy
python3-torch
python3-venv
python3-pip
python3-setuptools
python3-wheel
zlib1g-dev
libcjson-dev
libopenblas-dev
libcairo2-dev
libfontconfig-dev
python3-pil
chromium
libsentencepiece-dev
sentencepiece
python3-nltk
clang
libclang-rt-14-dev
libopenmpi-dev
openmpi-bin
iproute2
dataset-fashion-mnist
time
bc
"

missing=""
for p in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done

# The browser test drives Chromium with playwright-core from the npm registry: it needs node
# and npm, which some machines have from another source than Debian's packages.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

if [ -z "$missing" ]; then
    exit 0
fi

echo "deps: missing Debian packages:$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: run as root, or: sudo apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Update the package lists when they are empty or do not know a package we need.
need_update=0
[ -n "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial || true)" ] || need_update=1
for p in $missing; do
    apt-cache show "$p" >/dev/null 2>&1 || need_update=1
done
[ "$need_update" -eq 0 ] || apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
