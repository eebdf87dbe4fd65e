#!/usr/bin/env bash
# VS Code end-to-end test: builds and packages the extension (.vsix), installs it into a
# fresh code-server (VS Code 1.100 workbench), starts it on 127.0.0.1 with the real sc2-lsp
# server on PATH and a deterministic tiny model, and runs test/e2e/harness.ts in headless
# Chromium. Exit code 0 = every check passed; the screenshots then go to .work/screenshots
# (ignored by git); `make vscode-screenshots` puts them in test/screenshots, the committed ones.
# Needs test/setup.sh first and the project's .venv (`make install`); nothing is downloaded.
#   SC2_PYTHON       Python with sc2_lsp installed (default: <repo>/.venv/bin/python)
#   E2E_KEEP=1       keep .work/run (logs, workspace) even when the run passes
#   E2E_SHOTS_OUT    where a passing run leaves its screenshots (default: .work/screenshots)
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)             # editors/vscode
ROOT=$(cd "$HERE/../.." && pwd)
W=$HERE/.work
RUN=$W/run
SHOTS_OUT=${E2E_SHOTS_OUT:-$W/screenshots}
PY=${SC2_PYTHON:-$ROOT/.venv/bin/python}
CS=$W/code-server/node_modules/.bin/code-server
CHROMIUM=${E2E_CHROMIUM:-$(command -v chromium || true)}
start=$(date +%s%N)
ms() { echo $(( ($(date +%s%N) - start) / 1000000 )); }

missing=()
[ -x "$CS" ] || missing+=("code-server ($W/code-server)")
[ -n "$CHROMIUM" ] || missing+=("chromium")
[ -d "$HERE/node_modules/playwright-core" ] || missing+=("npm dependencies ($HERE/node_modules)")
"$PY" -c 'import sc2_lsp' 2>/dev/null || missing+=("sc2_lsp in $PY")
if [ ${#missing[@]} -gt 0 ]; then
  echo "e2e tooling missing: ${missing[*]}; run editors/vscode/test/setup.sh (and make install)" >&2
  exit 3
fi

rm -rf "$RUN"
mkdir -p "$RUN"/{ud/User,ud/Machine,ext,ws,shots,bin,tmp,models}
# short TMPDIR: VS Code puts unix sockets there (107-byte path limit) and leaves them behind
export TMPDIR=$RUN/tmp XDG_CONFIG_HOME=$RUN/xdg XDG_DATA_HOME=$RUN/xdg XDG_CACHE_HOME=$RUN/xdg

echo "== build and package ($(ms) ms)"
# vsce runs the vscode:prepublish script (tsc -p .) itself
(cd "$HERE" && node_modules/.bin/tsc -p test/e2e && node_modules/.bin/vsce package --skip-license --allow-missing-repository -o "$RUN/sc2-lsp.vsix" >/dev/null)
ls -la "$RUN/sc2-lsp.vsix" | awk '{print $5" bytes", $NF}'

echo "== models and fake Hugging Face hub ($(ms) ms)"
"$PY" "$HERE/test/e2e/fixtures.py" models "$RUN/models"
setsid "$PY" "$HERE/test/e2e/fixtures.py" hub "$RUN/models/x.gguf" "$RUN/hub-url" > "$RUN/hub.log" 2>&1 &
HUB_PID=$!
CS_PID=
cleanup() {
  # Both were started with setsid: each is a process-group leader, and its group holds
  # everything it started (extension host, file watcher, language servers, model pulls).
  for pid in $CS_PID $HUB_PID; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    alive=0; for pid in $CS_PID $HUB_PID; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break; sleep 0.1
  done
  for pid in $CS_PID $HUB_PID; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
for _ in $(seq 1 100); do [ -s "$RUN/hub-url" ] && break; sleep 0.1; done

printf 'a = 1' > "$RUN/ws/main.py"
# A notebook whose third cell is completed with the cells before it in the prompt.
cat > "$RUN/ws/analysis.ipynb" <<'JSON'
{
 "cells": [
  {"cell_type": "code", "execution_count": null, "id": "c1", "metadata": {}, "outputs": [],
   "source": ["import numpy as np\n", "rates = np.array([1.5, 2.5])"]},
  {"cell_type": "markdown", "id": "m1", "metadata": {}, "source": ["Total of the rates"]},
  {"cell_type": "code", "execution_count": null, "id": "c2", "metadata": {}, "outputs": [],
   "source": ["total ="]}
 ],
 "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
  "language_info": {"name": "python"}},
 "nbformat": 4,
 "nbformat_minor": 5
}
JSON
# The server is found on PATH (sc2.server.path stays empty): only sc2-lsp is exposed there.
ln -s "$(dirname "$PY")/sc2-lsp" "$RUN/bin/sc2-lsp"
cat > "$RUN/ud/User/settings.json" <<JSON
{
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "git.enabled": false,
  "chat.disableAIFeatures": true,
  "editor.quickSuggestions": { "other": false, "comments": false, "strings": false },
  "editor.suggestOnTriggerCharacters": false,
  "editor.wordBasedSuggestions": "off",
  "editor.fontSize": 16,
  "editor.inlineSuggest.showToolbar": "always",
  "notebook.cellToolbarLocation": { "default": "hidden" },
  "notebook.globalToolbar": false,
  "sc2.completion.maxTokensLine": 6
}
JSON
# Machine-scoped settings (sc2.model.path, sc2.server.*) belong in the remote machine's
# settings: in a remote window such as code-server's, VS Code ignores them in User settings.
cat > "$RUN/ud/Machine/settings.json" <<JSON
{
  "sc2.model.path": "$RUN/models/space-x.gguf"
}
JSON
cat > "$RUN/config.yaml" <<YAML
bind-addr: 127.0.0.1:0
auth: none
cert: false
disable-telemetry: true
disable-update-check: true
disable-workspace-trust: true
disable-getting-started-override: true
YAML
CSARGS=(--config "$RUN/config.yaml" --user-data-dir "$RUN/ud" --extensions-dir "$RUN/ext")

echo "== install the .vsix into code-server ($(ms) ms)"
"$CS" "${CSARGS[@]}" --install-extension "$RUN/sc2-lsp.vsix" --force 2>&1 | grep -v '^$' | tail -2

echo "== start code-server ($(ms) ms)"
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s/^bind-addr: .*/bind-addr: 127.0.0.1:$PORT/" "$RUN/config.yaml"
# VSCODE_CLI=1: the server then gives the extension host this environment as is, instead of
# one re-read from a login shell (whose /etc/profile would drop $RUN/bin from PATH).
# --enable-proposed-api: the extension may use the inlineCompletionsAdditions proposal, whose
# partial-accept hook reports accept-word to the server's statistics (kept in $RUN/state).
VSCODE_CLI=1 PATH=$RUN/bin:$PATH SC2_LSP_MODEL_DIR=$RUN/model-cache HF_ENDPOINT=$(cat "$RUN/hub-url") \
  HF_HUB_DISABLE_TELEMETRY=1 SC2_LSP_STATE_DIR=$RUN/state setsid "$CS" "${CSARGS[@]}" \
  --enable-proposed-api sc2-lsp.sc2-lsp --ignore-last-opened "$RUN/ws" \
  > "$RUN/code-server.log" 2>&1 &
CS_PID=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || { echo "code-server did not start"; cat "$RUN/code-server.log"; exit 1; }

echo "== scenario in headless Chromium ($(ms) ms)"
set +e
E2E_URL=http://127.0.0.1:$PORT E2E_WS=$RUN/ws E2E_SHOTS=$RUN/shots E2E_CHROMIUM=$CHROMIUM \
  E2E_MACHINE_SETTINGS=$RUN/ud/Machine/settings.json E2E_LOGS=$RUN/ud/logs \
  E2E_MISSING_MODEL=$RUN/models/missing.gguf E2E_LINES_MODEL=$RUN/models/lines.gguf \
  E2E_STATE=$RUN/state E2E_SC2=$RUN/bin/sc2-lsp \
  timeout 300 node "$HERE/out/test/e2e/harness.js"
rc=$?
set -e
cleanup
trap - EXIT
if [ $rc = 0 ]; then
  mkdir -p "$SHOTS_OUT"
  rm -f "$SHOTS_OUT"/*.png
  cp "$RUN"/shots/*.png "$SHOTS_OUT/"
  echo "screenshots: $SHOTS_OUT ($(ls "$SHOTS_OUT" | wc -l) files)"
  [ "${E2E_KEEP:-0}" = 1 ] || rm -rf "$RUN"
else
  echo "FAILED (rc $rc): screenshots in $RUN/shots, logs in $RUN (code-server.log, ud/logs)"
fi
echo "e2e took $(ms) ms"
exit $rc
