"""Executable runbooks: Markdown with step blocks (Runme's fence syntax)."""
