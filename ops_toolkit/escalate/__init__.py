"""Escalations: Alertmanager webhooks in, durable chat messages out."""
