"""Alerts as ops sees them: the Alertmanager webhook payload validated into frozen values.

Below both ``notify`` (messages about alerts) and ``escalate`` (routing and tiers), so
neither has to import the other for the model.
"""
