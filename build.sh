#!/usr/bin/env bash
# edgebed's one entry point: installs what is missing, builds, and runs.
#
#   ./build.sh run     set up, build, run the main job (the smart-building scenario)
#   ./build.sh test    set up, build, run every test with ctest
#   ./build.sh asan    the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   ./build.sh fuzz [SECONDS]  build the libFuzzer targets with clang, run each SECONDS
#   ./build.sh bench   build and run the Google Benchmark programs
#   ./build.sh deps    only install the Debian packages
#
# Everything comes from Debian 12's own packages; installing is skipped when
# all are present, so a second run goes straight to the build.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  cmake ninja-build g++ git pkg-config
  libns3-dev ns3 libgsl-dev
  libboost1.81-dev libboost-json1.81-dev
  libyaml-cpp-dev libeigen3-dev libsqlite3-dev sqlite3
  libbenchmark-dev libgtest-dev libxxhash-dev libssl-dev
  libnftables-dev iproute2 fuse3 libfuse3-dev
  gnuplot-nox
)
FUZZ_PACKAGES=(clang libclang-rt-14-dev)

install_missing() {
  local missing=()
  for p in "$@"; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "edgebed: installing ${missing[*]}" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "edgebed: run as root, or install sudo, to install: ${missing[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ncpu() { nproc 2>/dev/null || echo 2; }

build() {  # build DIR [cmake args...] [-- targets...]
  local dir=$1; shift
  local args=() targets=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift && targets=("$@")
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${args[@]}" >/dev/null
  if [ ${#targets[@]} -gt 0 ]; then
    cmake --build "$dir" -j "$(ncpu)" --target "${targets[@]}"
  else
    cmake --build "$dir" -j "$(ncpu)"
  fi
}

cmd=${1:-help}
case "$cmd" in
  deps)
    install_missing "${PACKAGES[@]}"
    ;;
  run)
    shift
    install_missing "${PACKAGES[@]}"
    build build
    ./build/tools/edgebed-sim run scenarios/smart-building.yaml "$@"
    ;;
  test)
    install_missing "${PACKAGES[@]}"
    build build
    ctest --test-dir build --output-on-failure -j "$(ncpu)"
    ;;
  asan)
    install_missing "${PACKAGES[@]}"
    build build-asan -DEDGEBED_SANITIZE=ON
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      ctest --test-dir build-asan --output-on-failure -j "$(ncpu)"
    ;;
  fuzz)
    install_missing "${PACKAGES[@]}" "${FUZZ_PACKAGES[@]}"
    CC=clang CXX=clang++ build build-fuzz -DEDGEBED_FUZZ=ON -- manifest_fuzzer selector_fuzzer sched_fuzzer \
      storage_wire_fuzzer cluster_wire_fuzzer
    seconds=${2:-60}
    # New inputs go to build-fuzz/corpus-NAME; the seeds come from the tree
    # (none for the storage and cluster wires: they start from nothing).
    for target in manifest:scenarios/smart-building selector:tests/fuzz/selector_seeds \
                  sched:scenarios/smart-building storage_wire: cluster_wire:; do
      name=${target%%:*} seeds=${target#*:}
      mkdir -p "build-fuzz/corpus-$name"
      ./build-fuzz/tests/fuzz/${name}_fuzzer -max_total_time="$seconds" -max_len=65536 \
        -timeout=10 "build-fuzz/corpus-$name" ${seeds:+"$seeds"}
    done
    ;;
  bench)
    install_missing "${PACKAGES[@]}"
    # Its own directory: a Release build must not flip build/ back and forth.
    build build-bench -DCMAKE_BUILD_TYPE=Release
    for b in build-bench/benchmarks/*_bench; do "$b" "${@:2}"; done
    ;;
  help|-h|--help)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    echo "edgebed: unknown command '$cmd'; use run, test, asan, fuzz, bench or deps (see ./build.sh help)" >&2
    exit 2
    ;;
esac
