#!/usr/bin/env bash
# Start the whole stack: venv, Redis (when local), the model service (when the bot uses it), the bot
# (or, with SURFACE=web, the browser page).
set -euo pipefail
cd "$(dirname "$0")/.."
config="${CONFIG:-config.yaml}"
if [ ! -f "$config" ]; then
  if [ "$config" = "config.yaml" ]; then
    echo "==> no config.yaml yet: using config.example.yaml (copy it to config.yaml to change settings)"
    config="config.example.yaml"
  else
    echo "error: config file $config not found" >&2
    exit 2
  fi
fi
# SURFACE=web (`make web`) serves the browser page instead of the Discord bot.
surface="${SURFACE:-bot}"
# Answer the commonest first-run problem in seconds, before any installing.
if [ "$surface" = bot ] && [ -z "${DISCORD_TOKEN:-}" ] && grep -Eq '^\s*token:\s*\$\{DISCORD_TOKEN\}' "$config"; then
  exec "${PYTHON:-python3}" scripts/discord_help.py "$config"
fi
extras=""
[ "$surface" = web ] && extras="web"
if grep -Eq '^\s*backend:\s*(chatglm|\$\{MODEL_BACKEND:-chatglm\})' "$config" || [ "${MODEL_BACKEND:-}" = "chatglm" ]; then
  extras="${extras:+$extras,}local"
fi
./scripts/venv.sh "$extras"
exec .venv/bin/python scripts/stack.py --config "$config" --surface "$surface"
