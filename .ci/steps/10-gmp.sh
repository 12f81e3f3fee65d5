# shellcheck shell=bash
# The GMP engine (native/gmp, the optional @mathapi/gmp addon) must be built in CI, so that
# test/math/gmp-engine.test.ts compares it with the JavaScript engine instead of skipping.
# Sourced by .ci/run (set -euo pipefail, repository root, .ci/lib/apt.sh loaded) after `npm install`, which builds the addon
# only when libgmp-dev was already there: install it if needed, rebuild, and fail here if it won't load.
apt_install libgmp-dev
if ! node -e "require('@mathapi/gmp')" 2>/dev/null; then
  npm rebuild @mathapi/gmp --foreground-scripts
fi
node -e "const g = require('@mathapi/gmp'); console.log('GMP engine: GMP ' + g.version + ', cancellable: ' + g.cancellable)"
