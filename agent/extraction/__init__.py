"""Memory extraction: model-free heuristics (and, with the agent, LLM-driven extractors)."""
