// GPT module.
