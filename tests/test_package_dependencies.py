"""Dependencies point one way (ARCHITECTURE.md): recommender <- feature_store <- serving,
training; serving never imports training; training reaches serving only from its CLI root
(``recsys serve``, the quickstart's server). Every import counts, top-level or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("recommender", "feature_store", "training", "serving")
#: package -> packages it must never import
FORBIDDEN = {
    "recommender": {"feature_store", "training", "serving"},
    "feature_store": {"training", "serving"},
    "serving": {"training"},
    "training": {"serving"},
}
#: the only modules allowed to cross a line above, and why
ALLOWED = {
    "training/cli/main.py": {"serving"},  # the `recsys` root registers `recsys serve`
    "training/cli/quickstart.py": {"serving"},  # the demo ends by serving
}


def imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_one_way(package: str) -> None:
    crossings = []
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        bad = imported_packages(path) & FORBIDDEN[package] - ALLOWED.get(relative, set())
        crossings += [f"{relative} imports {name}" for name in sorted(bad)]
    assert not crossings, crossings


def test_the_rule_can_fail(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from training.registry import promote\n")
    assert imported_packages(module) == {"training"}
