"""Settings shared by the bot and the model service."""
