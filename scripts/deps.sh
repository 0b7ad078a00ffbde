#!/bin/sh
# What attn needs, by purpose, and the Debian 12 packages that provide it.
#
#   scripts/deps.sh [--check] GROUP...     GROUP: lib build demo bench test (or all)
#
#   lib    compiler, make, pkg-config, zlib, cJSON           (make lib: libattn)
#   build  lib + cairo, fontconfig, SentencePiece, C++        (make, make cli: the attn command)
#   demo   build                                              (make demo)
#   bench  build + OpenBLAS (attn bench gemm compares with it) (make bench)
#   test   bench + Criterion, Python (NumPy, PyTorch, NLTK, Pillow, venv, pip), clang and
#          libFuzzer, OpenMPI, Chromium, node and npm, iproute2, time, bc, Fashion-MNIST (make test)
#
# Each need is probed the way the build or the tests use it (pkg-config for a library,
# `command -v` for a program, an import for a Python module, the path for a file), so what is
# installed from elsewhere than Debian counts too. Nothing missing: silent, exit 0. Something
# missing: as root on Debian, apt-get installs exactly those packages (idempotent: the second
# run does nothing); otherwise — or with --check — it prints the packages and the command that
# installs them, and exits 1.
#
# OpenMPI is a test need only: without mpicc the build makes the one-process libattn_mpi (same
# interface), so neither the library, the command nor the demo needs it; the MPI tests do.
set -eu
PY=${PY:-/usr/bin/python3}
command -v "$PY" > /dev/null 2>&1 || PY=python3

# need GROUP DEBIAN-PACKAGE PROBE[,PROBE...] WHAT
# probes: pc:NAME (pkg-config), cmd:NAME (command -v), py:MODULE, file:PATH (glob allowed)
NEEDS="
lib   build-essential       cmd:cc,cmd:make,file:/usr/include/stdio.h  C compiler, make and the C library headers
lib   pkg-config            cmd:pkg-config                             pkg-config
lib   zlib1g-dev            pc:zlib                                    zlib (the data loaders)
lib   libcjson-dev          pc:libcjson                                cJSON (safetensors headers)
build build-essential       cmd:c++                                    C++ compiler (the SentencePiece shim)
build libcairo2-dev         pc:cairo                                   cairo (heatmaps and plots)
build libfontconfig-dev     pc:fontconfig                              fontconfig (text in the images)
build libsentencepiece-dev  pc:sentencepiece                           SentencePiece (tokenizers)
bench libopenblas-dev       pc:openblas                                OpenBLAS (attn bench gemm compares with it)
test  libcriterion-dev      pc:criterion                               Criterion (the C unit tests)
test  python3               cmd:$PY                                    Python 3
test  python3-numpy         py:numpy                                   NumPy
test  python3-torch         py:torch                                   PyTorch (the conformance reference)
test  python3-venv          py:ensurepip                               python3 -m venv (python.sh)
test  python3-pip           py:pip                                     pip (python.sh installs ./python)
test  python3-setuptools    py:setuptools                              setuptools (building the Python package)
test  python3-wheel         py:wheel                                   wheel (building the Python package)
test  python3-pil           py:PIL                                     Pillow (the viz checks read PNGs)
test  python3-nltk          py:nltk                                    NLTK (a second BLEU reference)
test  clang                 cmd:clang                                  clang (libFuzzer targets)
test  libclang-rt-14-dev    file:/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a  libFuzzer
test  libopenmpi-dev        cmd:mpicc                                  OpenMPI compiler wrapper (libattn_mpi over MPI)
test  openmpi-bin           cmd:mpirun                                 mpirun (the MPI tests)
test  iproute2              cmd:ip                                     ip (the network-namespace test)
test  time                  file:/usr/bin/time                         /usr/bin/time (peak memory in hostile.sh)
test  bc                    cmd:bc                                     bc
test  chromium              file:/usr/bin/chromium                     Chromium (the viewer in a browser)
test  nodejs                cmd:node                                   node (browser test and BPE oracle)
test  npm                   cmd:npm                                    npm (playwright-core, gpt-3-encoder)
test  dataset-fashion-mnist file:/usr/share/datasets/fashion-mnist/*   Fashion-MNIST (the ViT test)
"

usage() {
    echo "usage: scripts/deps.sh [--check] lib|build|demo|bench|test|all ..." >&2
    exit 2
}

check_only=0
groups=""
for a in "$@"; do
    case "$a" in
        --check) check_only=1 ;;
        lib) groups="$groups lib" ;;
        build | cli) groups="$groups lib build" ;;
        demo) groups="$groups lib build" ;;
        bench) groups="$groups lib build bench" ;;
        test | all) groups="$groups lib build bench test" ;;
        -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) usage ;;
    esac
done
[ -n "$groups" ] || usage

probe() { # probe PROBE: 0 when present
    case "$1" in
        pc:*) pkg-config --exists "${1#pc:}" 2> /dev/null ;;
        cmd:*) command -v "${1#cmd:}" > /dev/null 2>&1 ;;
        py:*) "$PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('${1#py:}') is None)" 2> /dev/null ;;
        file:*)
            for f in ${1#file:}; do
                [ -e "$f" ] && return 0
            done
            return 1
            ;;
        *) return 1 ;;
    esac
}

# missing_list: "package|what" lines for every need of the chosen groups that is not met
missing_list() {
    echo "$NEEDS" | while read -r g pkg probes what; do
        [ -n "$g" ] || continue
        case " $groups " in *" $g "*) ;; *) continue ;; esac
        ok=1
        for p in $(echo "$probes" | tr ',' ' '); do
            probe "$p" || ok=0
        done
        [ "$ok" -eq 1 ] || echo "$pkg|$what ($probes)"
    done
}

missing=$(missing_list)
[ -n "$missing" ] || exit 0

packages=$(echo "$missing" | cut -d'|' -f1 | awk '!seen[$0]++' | tr '\n' ' ' | sed 's/ $//')
echo "deps: missing for '$(echo "$*" | sed 's/--check *//')':" >&2
echo "$missing" | awk -F'|' '{ printf "  %-22s %s\n", $1, $2 }' >&2

on_debian=0
[ -f /etc/debian_version ] && command -v apt-get > /dev/null 2>&1 && on_debian=1
if [ "$check_only" -eq 1 ] || [ "$on_debian" -eq 0 ] || [ "$(id -u)" -ne 0 ]; then
    if [ "$on_debian" -eq 1 ] && [ "$(id -u)" -ne 0 ]; then
        echo "deps: install them as root: sudo apt-get install -y --no-install-recommends $packages" >&2
    elif [ "$on_debian" -eq 1 ]; then
        echo "deps: install them with: apt-get install -y --no-install-recommends $packages" >&2
    else
        echo "deps: not a Debian system: install the equivalents of these Debian packages: $packages" >&2
        echo "deps: (pkg-config and the PATH decide what is present, not the package manager)" >&2
    fi
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Update the package lists when they are empty or do not know a package we need.
need_update=0
[ -n "$(ls -A /var/lib/apt/lists 2> /dev/null | grep -v -e lock -e partial || true)" ] || need_update=1
for p in $packages; do
    apt-cache show "$p" > /dev/null 2>&1 || need_update=1
done
[ "$need_update" -eq 0 ] || apt-get update -qq
echo "deps: apt-get install -y --no-install-recommends $packages" >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $packages
still=$(missing_list)
if [ -n "$still" ]; then
    echo "deps: still missing after apt-get install:" >&2
    echo "$still" | awk -F'|' '{ printf "  %-22s %s\n", $1, $2 }' >&2
    exit 1
fi
