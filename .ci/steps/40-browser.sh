# Browser tests (test/web) drive Debian's Chromium through playwright-core; no browser is ever downloaded.
# Sourced by .ci/run with `set -euo pipefail`: a failed install stops CI here rather than in the tests.
if ! CHROMIUM_PATH=$(command -v chromium-headless-shell || command -v chromium); then
  apt_install --with-recommends chromium-headless-shell || apt_install --with-recommends chromium
  CHROMIUM_PATH=$(command -v chromium-headless-shell || command -v chromium)
fi
export CHROMIUM_PATH
echo "chromium: $CHROMIUM_PATH ($("$CHROMIUM_PATH" --version 2>/dev/null || echo 'version unknown'))"
