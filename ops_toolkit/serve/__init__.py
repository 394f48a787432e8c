"""``ops serve``: the HTTP app, the store, the loops that turn stored work into messages, and
the composition root (``service``) that wires escalate, reports and notify together."""
