#!/usr/bin/env bash
# The GitHub workflows cannot run here: lint them with actionlint (installed
# from the Go module proxy into the tools cache) and check that the release
# workflow builds and tests every target package.json names.
source "$(dirname "$0")/toolchain.sh"
cd "$REPO_ROOT"

ACTIONLINT_VERSION=1.7.12
actionlint="$TOOLS_DIR/actionlint-$ACTIONLINT_VERSION/actionlint"
if [ ! -x "$actionlint" ]; then
  command -v go >/dev/null || die "go is needed to install actionlint"
  log "installing actionlint $ACTIONLINT_VERSION (once)"
  GOBIN="$(dirname "$actionlint")" go install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
fi
log "actionlint"
"$actionlint" -shellcheck= .github/workflows/*.yml
node scripts/check-release-targets.mjs
