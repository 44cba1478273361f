"""ai-svc: requirements analysis of generated apps with a local or OpenAI-compatible LLM."""
