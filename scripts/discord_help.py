"""Say how to get a Discord bot token and invite the bot; stdlib only, so it runs before installing."""

from __future__ import annotations

import sys

# View Channels, Send Messages, Send Messages in Threads, Embed Links, Read Message History.
PERMISSIONS = 1024 + 2048 + 274877906944 + 16384 + 65536

GUIDE = f"""\
error: DISCORD_TOKEN is not set, so the bot cannot log in to Discord ({{config}}: discord.token).

To get a token:
  1. Open https://discord.com/developers/applications and click "New Application".
  2. In "Bot", click "Reset Token" and copy it, then:   export DISCORD_TOKEN='<the token>'
  3. Still in "Bot", under "Privileged Gateway Intents", turn on "Message Content Intent"
     (without it players must use /ask instead of plain messages).
  4. Invite the bot with this URL (your Application ID is on the "General Information" page):
     https://discord.com/oauth2/authorize?client_id=<APPLICATION_ID>&scope=bot+applications.commands&permissions={PERMISSIONS}
     (scopes bot and applications.commands; permissions: View Channels, Send Messages,
     Send Messages in Threads, Embed Links, Read Message History)
Then run `make run` again.

The host is a language model behind model.base_url. By default `make run` starts the model
service, which relays to OpenAI: export OPENAI_API_KEY='sk-...'. For a local ChatGLM-6B set
model_service.backend: chatglm (or export MODEL_BACKEND=chatglm); see docs/MODEL_SERVICE.md.
"""


def main() -> int:
    config = sys.argv[1] if len(sys.argv) > 1 else "config.yaml"
    print(GUIDE.format(config=config), file=sys.stderr, end="")
    return 2


if __name__ == "__main__":
    sys.exit(main())
