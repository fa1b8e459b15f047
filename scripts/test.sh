#!/usr/bin/env bash
# The whole test suite, from a fresh machine of our kind (Debian 12, root): provisions what is
# missing, builds, type-checks, lints, packages the .vsix, then runs every tier against the
# real parts: unit (no kernel), integration (real kernel, local test nodes with JuiceFS,
# Redis and sshd), extension (mocha inside code-server's extension host), e2e (Playwright +
# Chromium on the packaged .vsix). Ends with one line: "N passed, N failed".
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
START=$SECONDS
say() { printf '[test +%ss] %s\n' "$((SECONDS - START))" "$*" >&2; }
step_failures=0
step() {
  local name=$1; shift
  say "$name"
  if ! "$@"; then
    say "FAILED: $name"
    step_failures=$((step_failures + 1))
    return 1
  fi
}

step provision scripts/provision.sh || { echo "0 passed, 1 failed"; exit 1; }
step build npm run --silent build || { echo "0 passed, 1 failed"; exit 1; }
step typecheck npm run --silent typecheck
step lint npm run --silent lint
step package npm run --silent package
# Packaging builds the production bundles; the tiers run on the development build + tests.
step build-tests npm run --silent build

rm -rf out/test-results
for tier in unit integration extension e2e; do
  step "tier $tier" node scripts/run-tests.mjs "$tier"
done

passed=0
failed=$step_failures
for f in out/test-results/*.json; do
  [[ -f $f ]] || continue
  p=$(node -p "require('./$f').passed") && f2=$(node -p "require('./$f').failed") || continue
  passed=$((passed + p))
  failed=$((failed + f2))
done
# A failed tier is already counted through its own failures; don't count it twice.
for tier in unit integration extension e2e; do
  [[ -f out/test-results/$tier.json ]] && failed=$((failed - 0))
done
say "done in $((SECONDS - START)) s"
echo "$passed passed, $failed failed"
((failed == 0))
