"""The README's metrics table lists every metric the code emits, and no other: an alarm or a
dashboard is built from that table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
SOURCES = (ROOT / "layers" / "winnodes" / "winnodes", ROOT / "functions")
ROW = re.compile(r"^\| `(?P<name>[A-Za-z]+)` \| (?:Count|Seconds) \|", re.MULTILINE)


def emitted_metrics() -> set[str]:
    names = set()
    for path in (path for source in SOURCES for path in source.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_metric"
            ):
                (name,) = [k.value for k in node.keywords if k.arg == "name"]
                assert isinstance(name, ast.Constant), f"{path}: a metric name that is no literal"
                names.add(str(name.value))
    return names


def test_the_readme_lists_exactly_the_metrics_emitted() -> None:
    documented = set(ROW.findall((ROOT / "README.md").read_text(encoding="utf-8")))
    emitted = emitted_metrics()
    assert len(emitted) > 15  # the walk found the calls
    assert documented == emitted
