"""Metrics sources. ``prometheus.py`` is the only module that talks to Prometheus."""
