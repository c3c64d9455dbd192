"""The judging benchmark: how often a model, prompted as the bot prompts it, gives a careful host's verdict."""
