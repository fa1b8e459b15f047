#!/usr/bin/env bash
# The whole test suite, from a fresh machine of our kind (Debian 12, root): provisions what is
# missing, builds, type-checks, lints, packages the .vsix, then runs every tier against the
# real parts: unit (no kernel), integration (real kernel, local test nodes with JuiceFS,
# Redis and sshd), extension (mocha inside code-server's extension host), e2e (Playwright +
# Chromium on the packaged .vsix). Ends with one line: "N passed, N failed", where a failed
# build, type check, lint or packaging step counts as one failure each.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
START=$SECONDS
say() { printf '[test +%ss] %s\n' "$((SECONDS - START))" "$*" >&2; }
failed=0
step() {
  local name=$1
  shift
  say "$name"
  "$@" && return 0
  say "FAILED: $name"
  failed=$((failed + 1))
  return 1
}

step provision scripts/provision.sh || { echo "0 passed, $failed failed"; exit 1; }
step build npm run --silent build || { echo "0 passed, $failed failed"; exit 1; }
step typecheck npm run --silent typecheck
step lint npm run --silent lint
step package npm run --silent package
# Packaging leaves production bundles in dist/; the tiers run on the development build.
step build-tests npm run --silent build

rm -rf out/test-results
passed=0
for tier in unit integration extension e2e; do
  say "tier $tier"
  node scripts/run-tests.mjs "$tier" # records its counts in out/test-results/$tier.json
  result="out/test-results/$tier.json"
  if [[ -f $result ]]; then
    passed=$((passed + $(node -p "require('./$result').passed")))
    failed=$((failed + $(node -p "require('./$result').failed")))
  else
    say "FAILED: tier $tier left no results"
    failed=$((failed + 1))
  fi
done

say "done in $((SECONDS - START)) s"
echo "$passed passed, $failed failed"
((failed == 0))
