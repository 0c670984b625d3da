"""townhall: one community server, five wire APIs (see DESIGN.md)."""

__version__ = "0.1.0"
