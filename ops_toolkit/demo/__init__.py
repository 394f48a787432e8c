"""The worked example, end to end on embedded defaults (``make demo``).

Also home of what the demo and the integration tests share: the generated metrics of the
document-search service and a local Prometheus on a loopback port.
"""
