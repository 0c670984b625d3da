"""Wire formats only: one package per surface (DESIGN.md rule 1)."""
