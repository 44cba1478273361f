"""Model backends: in-process GPT4All, and any OpenAI-compatible server."""
