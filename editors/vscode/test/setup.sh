#!/usr/bin/env bash
# Installs what test/e2e.sh needs, offline except for the Debian, npm and PyPI registries:
# Debian chromium (headless browser), the extension's npm dependencies (TypeScript, vsce,
# playwright-core, vscode-languageclient) and code-server (a real VS Code 1.100 workbench).
# Idempotent and cache-friendly: a second run does nothing. Everything but the apt packages
# lives in editors/vscode/node_modules and editors/vscode/.work (both git-ignored; cache them).
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)            # editors/vscode
W=$HERE/.work
CODE_SERVER_VERSION=4.100.3                        # 4.96.x needs GitHub; 4.100.3 installs offline
RG_PKG_VERSION=1.15.11                             # @vscode/ripgrep pinned by code-server 4.100.3
mkdir -p "$W/tmp"
printf 'auth: none\n' > "$W/tmp/config.yaml"
export npm_config_cache=$W/npm-cache npm_config_update_notifier=false npm_config_fund=false \
  npm_config_audit=false
start=$(date +%s)
step() { echo "== $* (+$(( $(date +%s) - start )) s)"; }

cs() {
  # own config and data dirs: without them code-server writes ~/.config/code-server/config.yaml
  XDG_CONFIG_HOME=$W/tmp/xdg XDG_DATA_HOME=$W/tmp/xdg "$W/code-server/node_modules/.bin/code-server" \
    --config "$W/tmp/config.yaml" "$@"
}
cs_installed() {
  [ -x "$W/code-server/node_modules/.bin/code-server" ] &&
    cs --version 2>/dev/null | grep -q "^$CODE_SERVER_VERSION "
}

step "apt packages"
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v curl >/dev/null || need+=(curl)
if ! cs_installed; then
  # only code-server's own install needs these: kerberos.node builds against gssapi.h, and
  # @vscode/ripgrep's postinstall is fed Debian's rg instead of a GitHub download
  dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
  command -v rg >/dev/null || need+=(ripgrep)
fi
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "run as root, or apt-get install ${need[*]} first" >&2; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

step "extension npm dependencies"
lock_sum=$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$W/npm-ci.stamp" 2>/dev/null)" != "$lock_sum" ] || [ ! -d "$HERE/node_modules" ]; then
  (cd "$HERE" && npm ci --no-audit --no-fund)
  echo "$lock_sum" > "$W/npm-ci.stamp"
else
  echo "up to date"
fi

step "code-server $CODE_SERVER_VERSION"
if cs_installed; then
  echo "up to date"
else
  # @vscode/ripgrep's postinstall looks in $TMPDIR/vscode-ripgrep-cache-<version>/ before
  # it asks api.github.com; a TMPDIR inside .work keeps the seeded archive with the cache.
  rg_cache=$W/tmp/vscode-ripgrep-cache-$RG_PKG_VERSION
  mkdir -p "$rg_cache"
  d=$(mktemp -d); cp "$(command -v rg)" "$d/rg"
  tar -czf "$rg_cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$d" rg
  rm -rf "$d"
  mkdir -p "$W/code-server"
  [ -f "$W/code-server/package.json" ] || echo '{"name":"cs","private":true}' > "$W/code-server/package.json"
  # npm_config_yes: node-pty's postinstall runs `npx node-gyp`, which otherwise waits for a TTY;
  # --unsafe-perm: code-server's postinstall refuses to run as root without it
  (cd "$W/code-server" && TMPDIR=$W/tmp npm_config_yes=true \
    npm install --unsafe-perm --no-audit --no-fund "code-server@$CODE_SERVER_VERSION" 2>&1 \
    | grep -v 'Unknown cli config "--unsafe-perm"' || true)
  cs_installed || { echo "code-server install failed" >&2; exit 1; }
fi
cs --version | grep "^$CODE_SERVER_VERSION "
echo "setup done in $(( $(date +%s) - start )) s"
