"""Service level objectives: definitions, error-budget maths, queries, rules and reports."""
