"""Routing, escalation policies and their timelines, on-call schedules, Slack requests: pure."""
