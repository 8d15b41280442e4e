#!/usr/bin/env bash
# make reliability: the long reliability and security runs (-tags reliability),
# then every fuzz target for FUZZTIME each. Every step runs even when an
# earlier one fails; the exit status says whether all passed. Figures (the
# FIGURE lines of the tests, fuzz executions) go to $OUT (bin/reliability).
set -u
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-5s}
OUT=${OUT:-bin/reliability}
mkdir -p "$OUT"
export LEDGERLINE_RELIABILITY_FIGURES="$PWD/$OUT/figures.txt"
: > "$LEDGERLINE_RELIABILITY_FIGURES"
: > "$OUT/fuzz.txt"
failed=()

echo "== reliability tests (-tags reliability): crash cycles, PostgreSQL restarts, hostile input, authorization, leaks"
if ! $GO test -tags reliability -count=1 -timeout 60m -v \
	-run '^(TestReliability|TestHostileInput)' ./tests/ 2>&1 | tee "$OUT/tests.log" | grep -E '^(=== RUN|--- |FAIL|ok|PASS)|FIGURE|KNOWN BUG'; then
	:
fi
grep -q -- '--- FAIL' "$OUT/tests.log" && failed+=("tests")
grep -q -E '^ok ' "$OUT/tests.log" || grep -q -- '--- FAIL' "$OUT/tests.log" || failed+=("tests (did not finish)")

fuzz() { # package target
	echo "== fuzz $2 ($1, $FUZZTIME)"
	if $GO test -run='^$' -fuzz="^$2\$" -fuzztime="$FUZZTIME" "$1" > "$OUT/fuzz-$2.log" 2>&1; then
		execs=$(grep -oE 'execs: [0-9]+' "$OUT/fuzz-$2.log" | tail -1 | grep -oE '[0-9]+')
		echo "$1 $2 execs=${execs:-?} ok" | tee -a "$OUT/fuzz.txt"
	else
		echo "$1 $2 FAILED (see $OUT/fuzz-$2.log)" | tee -a "$OUT/fuzz.txt"
		tail -20 "$OUT/fuzz-$2.log"
		failed+=("fuzz $2")
	fi
}
for t in FuzzRegisterAccountBody FuzzIssueKeyBody FuzzRecordUsageBody FuzzUsageBatchBody FuzzRecordPaymentBody \
	FuzzIssueTokenBody FuzzVerifyKeyBody FuzzPrivacyRequestBody FuzzAnyBody; do
	fuzz ./adapters/httpapi "$t"
done
fuzz ./eventstore FuzzCodecDecode
fuzz ./eventstore FuzzDomainDecode
fuzz ./adapters/embedded FuzzDecode
fuzz ./domain/privacy/certificate FuzzVerify
fuzz ./adapters/keyring FuzzLoad

echo "== figures ($OUT/figures.txt)"
cat "$LEDGERLINE_RELIABILITY_FIGURES"
if [ ${#failed[@]} -gt 0 ]; then
	echo "FAILED: ${failed[*]}"
	exit 1
fi
echo "all reliability checks passed"
