# Unit tests: every cmocka binary the build made, each test case counted from its TAP output.
# shellcheck shell=bash

run_unit_tests() {
	local exe name out status
	# test_linux parses a real Debian bzImage too, when prepare_linux_guest has one.
	[ -f "$LINUX_GUEST/vmlinuz" ] && export MPVMM_TEST_VMLINUZ="$LINUX_GUEST/vmlinuz"
	for exe in "$BUILD"/test_*; do
		[ -f "$exe" ] && [ -x "$exe" ] || continue
		name=$(basename "$exe")
		out="$TMP/$name.tap"
		CMOCKA_MESSAGE_OUTPUT=TAP "$exe" >"$out" 2>&1
		status=$?
		local ok notok skipped
		# cmocka's TAP marks a skipped case "not ok N # SKIP": a skip, not a failure.
		skipped=$(grep -cE '^(not )?ok [0-9]+ # SKIP' "$out")
		ok=$(grep -vE '# SKIP' "$out" | grep -c '^ok ')
		notok=$(grep -vE '# SKIP' "$out" | grep -c '^not ok ')
		PASSED=$((PASSED + ok))
		SKIPPED=$((SKIPPED + skipped))
		# A skipped case's reason is the "# skip reason:" line its test printed before it.
		awk -v name="unit/$name" '/^# skip reason: / { why = substr($0, 16); next }
			/# SKIP/ { sub(/^(not )?ok [0-9]+ # SKIP /, ""); print "SKIP " name ": " $0 ": " \
				(why != "" ? why : "no reason given"); why = ""; next }
			/^(not )?ok / { why = "" }' "$out"
		if [ "$notok" -gt 0 ] || [ "$status" -ne 0 ] || [ $((ok + skipped)) -eq 0 ]; then
			FAILED=$((FAILED + (notok > 0 ? notok : 1)))
			FAILURES="$FAILURES\n  unit/$name"
			echo "FAIL unit/$name ($ok ok, $notok not ok, exit $status)"
			grep -v '^ok ' "$out" | head -40
		else
			echo "PASS unit/$name ($ok cases)"
		fi
	done
}
