# mpvmm explore on the software CPU (needs no /dev/kvm): a guest with a deliberate bring-up
# bug fails under some seed, the printed replay command reproduces it, and the correct guest
# passes under every seed tried.
# shellcheck shell=bash

check_explore_finds_race() {
	local name=explore-racy out=$TMP/explore-racy.out
	"$MPVMM" explore --seeds 40 --cpus 8 --selftest-racy >"$out" 2>&1
	local status=$? replay
	replay=$(grep -m1 '^  mpvmm run --accel soft --seed' "$out" | sed 's/^  mpvmm //')
	if [ "$status" -ne 1 ] || [ -z "$replay" ]; then
		fail "soft/$name" "exit $status, no failing seed: $(tail -3 "$out")"
		return
	fi
	# The replay fails the same way twice (same seed, same interleaving).
	# shellcheck disable=SC2086 # the replay command is words
	local a b
	a=$("$MPVMM" $replay --quiet 2>/dev/null | grep '^selftest: FAIL')
	b=$("$MPVMM" $replay --quiet 2>/dev/null | grep '^selftest: FAIL')
	if [ -n "$a" ] && [ "$a" = "$b" ] && echo "$a" | grep -q 'unlocked update was lost'; then
		pass "soft/$name ($(grep -c '^seed ' "$out") of 40 seeds fail; replay: $replay)"
	else
		fail "soft/$name" "replay '$replay' gave '$a' then '$b'"
	fi
}

check_explore_clean() {
	local out=$TMP/explore-clean.out
	"$MPVMM" explore --seeds 20 --cpus 8 >"$out" 2>&1
	local status=$?
	if [ "$status" -eq 0 ] && grep -q '^explore: 20 seeds, 0 failed' "$out"; then
		pass "soft/explore-clean"
	else
		fail "soft/explore-clean" "exit $status: $(tail -3 "$out")"
	fi
}

run_explore_tests() {
	check_explore_finds_race
	check_explore_clean
}
