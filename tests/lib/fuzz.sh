# The fuzz harnesses' seed corpora (fuzz/corpus/NAME), replayed by the harnesses the build
# made (fuzz/fuzz_NAME.c; with gcc a plain main that runs each file once): a crash, a
# sanitizer report or a failed check in any input fails the harness.  scripts/fuzz.sh fuzzes
# beyond the seeds (clang and libFuzzer).
# shellcheck shell=bash

run_fuzz_tests() {
	local exe name corpus out status n
	for exe in "$BUILD"/fuzz_*; do
		[ -f "$exe" ] && [ -x "$exe" ] || continue
		name=${exe##*/fuzz_}
		corpus=$HERE/../fuzz/corpus/$name
		if [ ! -d "$corpus" ]; then
			fail "fuzz/$name-corpus" "no seed corpus at fuzz/corpus/$name"
			continue
		fi
		n=$(find "$corpus" -type f | wc -l)
		out=$TMP/fuzz-$name.out
		if "$exe" -help=1 >/dev/null 2>&1; then
			timeout -k 10 300 "$exe" -runs=0 "$corpus" >"$out" 2>&1 # libFuzzer
		else
			timeout -k 10 300 "$exe" "$corpus" >"$out" 2>&1
		fi
		status=$?
		if [ "$status" -ne 0 ] || [ "$n" -eq 0 ]; then
			fail "fuzz/$name-corpus" "exit $status over $n inputs: $(tail -n 5 "$out")"
		else
			pass "fuzz/$name-corpus ($n inputs)"
		fi
	done
}
