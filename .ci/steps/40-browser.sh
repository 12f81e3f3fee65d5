# Browser tests (test/web) drive Debian's Chromium through playwright-core; no browser is ever downloaded.
# Sourced by .ci/run with `set -euo pipefail`: a failed install stops CI here rather than in the tests.
if ! CHROMIUM_PATH=$(command -v chromium-headless-shell || command -v chromium); then
  apt-get update -qq
  apt-get install -y -qq chromium-headless-shell || apt-get install -y -qq chromium
  CHROMIUM_PATH=$(command -v chromium-headless-shell || command -v chromium)
fi
export CHROMIUM_PATH
echo "chromium: $CHROMIUM_PATH ($("$CHROMIUM_PATH" --version 2>/dev/null || echo 'version unknown'))"
