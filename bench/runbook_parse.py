"""Parse 1,000 generated runbooks of ~20 steps; ms per runbook. Target: under 2 ms each.

Baseline in the same run: markdown-it alone on the same texts, so the ratio shows our overhead.
"""

from __future__ import annotations

import time

from ops_toolkit.runbook.parse import _parser, parse_runbook

COUNT = 1000
STEPS = 20


def generate(index: int) -> str:
    parts = [
        "---",
        f"title: Generated runbook {index}",
        "owner: team-bench",
        f"alerts: [BenchAlert{index}]",
        "params:",
        '  SERVICE: {default: api, pattern: "^[a-z]+$"}',
        "---",
        f"# Generated runbook {index}",
        "",
    ]
    for step in range(STEPS):
        if step % 5 == 0:
            parts += [f"## Section {step // 5}", "", "Some prose explaining what happens next.", ""]
        parts += [
            f'```sh {{"name":"step-{step}","timeout":"30s","tag":"diagnose"}}',
            f'echo "step {step} for $SERVICE"',
            "```",
            "",
        ]
    return "\n".join(parts)


def main() -> None:
    texts = [generate(i) for i in range(COUNT)]
    md = _parser()
    start = time.perf_counter()
    for text in texts:
        md.parse(text)
    baseline = time.perf_counter() - start
    start = time.perf_counter()
    for index, text in enumerate(texts):
        runbook = parse_runbook(text, f"bench-{index}.md")
        assert len(runbook.steps) == STEPS
    elapsed = time.perf_counter() - start
    print(
        f"runbook_parse: {elapsed / COUNT * 1000:.3f} ms per runbook ({STEPS} steps; target < 2 ms), "
        f"markdown-it alone {baseline / COUNT * 1000:.3f} ms, ratio {elapsed / baseline:.2f}x"
    )


if __name__ == "__main__":
    main()
