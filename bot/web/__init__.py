"""Play in the browser: a Gradio page over the same engine as the bot (`python -m bot.web`).

sessions.py maps a browser's session token to a channel id of its own; game.py turns engine
calls into what a session sees; page.py draws that with Gradio; app.py serves it.
"""
