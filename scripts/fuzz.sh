#!/usr/bin/env bash
# Fuzzes every parser of physfit with libFuzzer under AddressSanitizer
# and UBSan: builds the harnesses of tests/fuzz with clang in build-fuzz/ (only the parsers
# and what they call), then runs each from its seed corpus tests/fuzz/corpus/<name>/ and its
# reproducers tests/fuzz/regressions/<name>/. Fails on any finding: the reproducer libFuzzer
# writes (build-fuzz/findings/<name>/) goes, once the parser is fixed, into
# tests/fuzz/regressions/<name>/, which the normal test suite replays.
#
# By default (CI) each harness runs a fixed number of inputs from a fixed seed and an empty
# working corpus: the same commit meets the same inputs on every machine and every run, so a
# finding is the code's, never the luck of the run (about 10 s a harness here). --time
# explores instead: a random seed, S seconds a harness, and a corpus kept in build-fuzz/corpus.
#
#   scripts/fuzz.sh                 # every harness, fixed inputs (CI: about 4 min with the build)
#   scripts/fuzz.sh --time 600 idx  # explore one harness for 10 minutes
#   scripts/fuzz.sh --list          # the harnesses
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=0  # 0: the fixed runs below
names=()
list=0
while (($#)); do
  case "$1" in
    --time) seconds="$2"; shift ;;
    --list) list=1 ;;
    -h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) names+=("$1") ;;
  esac
  shift
done
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "fuzz.sh: --time needs a positive number of seconds, not '$seconds'" >&2
  exit 2
fi
all=$(sed -n 's/^set(PHYSFIT_FUZZ_HARNESSES \(.*\))$/\1/p' tests/fuzz/harnesses.cmake)
if ((list)); then
  tr ' ' '\n' <<<"$all"
  exit 0
fi
((${#names[@]})) || read -r -a names <<<"$all"
for n in "${names[@]}"; do
  [[ " $all " == *" $n "* ]] || { echo "fuzz.sh: no harness '$n' (harnesses: $all)" >&2; exit 2; }
done

scripts/setup.sh --tests
build=build-fuzz
cmake -S . -B "$build" -G Ninja -DPHYSFIT_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$build" --parallel "$(nproc)" --target "${names[@]/#/fuzz_}" \
  physfit_fuzz_keep_loaded

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:verify_asan_link_order=0
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Inputs a harness runs by default: about 10 s each on a 2-core CI machine (the parsers that
# build HDF5 files or call spglib run some hundred inputs a second, the text parsers 10^4).
declare -A runs=([ini]=200000 [csv]=100000 [idx]=2500 [poscar]=100000 [alamode]=100000
                 [phonopy_yaml]=3000 [extxyz]=40000 [force_sets]=100000 [dfset]=100000
                 [born]=600 [hdf5]=300)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for n in "${names[@]}"; do
  findings="$build/findings/$n"
  if ((seconds)); then
    work="$build/corpus/$n"  # what libFuzzer adds; the committed seeds stay as they are
    budget=(-max_total_time="$seconds")
    what="${seconds} s, random seed"
  else
    work="$scratch/$n"
    budget=(-runs="${runs[$n]:-50000}" -seed=1 -reload=0)
    what="${runs[$n]:-50000} inputs from seed 1"
  fi
  mkdir -p "$findings" "$work"
  seeds=(tests/fuzz/corpus/"$n")
  [[ -d tests/fuzz/regressions/$n ]] && seeds+=(tests/fuzz/regressions/"$n")
  log="$build/fuzz_$n.log"
  echo "fuzz.sh: $n, $what"
  preload=()  # MPI's plugins stay loaded at exit, so that their leaks name them (fuzz.cmake)
  [[ $n == hdf5 ]] && preload=(env LD_PRELOAD="$PWD/$build/libphysfit_fuzz_keep_loaded.so")
  if "${preload[@]}" "$build/fuzz_$n" "${budget[@]}" -timeout=60 -rss_limit_mb=2048 \
       -malloc_limit_mb=1024 -max_len=8192 -artifact_prefix="$findings/" -print_final_stats=1 \
       "$work" "${seeds[@]}" >"$log" 2>&1; then
    grep -E "^#[0-9]+[[:space:]]+DONE" "$log" | tail -1 | sed "s/^/fuzz.sh: $n: /" || true
    grep -E "stat::(number_of_executed_units|average_exec_per_sec)" "$log" | sed "s/^/fuzz.sh: $n: /"
  else
    echo "fuzz.sh: $n FOUND A BUG; the log is $log, the input in $findings/:" >&2
    grep -E "ERROR|runtime error|Uncaught|terminate|==[0-9]+==" "$log" | head -20 >&2 || true
    ls "$findings" >&2
    failed+=("$n")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz.sh: findings in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: ${#names[@]} harnesses, no finding"
