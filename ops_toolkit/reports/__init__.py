"""Scheduled budget reports and the error-budget policy: what to post and when (exactly once
per slot, through whatever store ``ops serve`` hands in)."""
