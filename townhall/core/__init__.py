"""The domain. No web framework, no HTTP status codes, no wire schemas (DESIGN.md rule 1)."""
