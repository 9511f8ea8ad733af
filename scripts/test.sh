#!/usr/bin/env bash
# Run the test suite in the environment made by scripts/setup.sh.
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not slow"` for the quick tests only.
set -eo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
. "$REPO/scripts/env.sh"
cd "$REPO"
exec python -m pytest -ra "$@"
