"""LLM personas: a second policy behind the same interface as the offline default."""
