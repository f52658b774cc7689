# Sourced by the scripts that drive Chromium (browser.sh, cluster.sh):
# checks for Chromium and Node.js and installs the npm packages from
# tests/browser/package-lock.json when they are missing. Leaves
# `chromium` set to the binary.
chromium=${CHROMIUM:-/usr/bin/chromium}
if [[ ! -x $chromium ]]; then
  echo "no Chromium at $chromium: apt-get install chromium, or set CHROMIUM" >&2
  exit 1
fi
command -v node >/dev/null || { echo "node is needed to run the browser test" >&2; exit 1; }
if [[ ! -d tests/browser/node_modules/playwright-core ]]; then
  (cd tests/browser && npm ci --no-audit --no-fund)
fi
