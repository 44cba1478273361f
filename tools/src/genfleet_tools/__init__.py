"""GenFleet's build-time tools: what set-up runs before the platform can, never the platform."""
