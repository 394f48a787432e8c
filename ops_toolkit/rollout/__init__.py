"""Staged rollouts: a service opens to users and data stage by stage, each advance gated on
SLO evidence and performed by a runbook; progress is an append-only history beside the plan."""
