"""The import contracts of docs/architecture.md hold, and they catch an import that breaks them.

`manage.py runtests` runs `lint-imports` before pytest; these tests show that its contracts are not
a check that cannot fail: a copy of the tree with one bad import added is refused, with the import
named.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = str(Path(sys.executable).with_name("lint-imports"))


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([LINT, "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package and its contracts, to break on purpose."""
    shutil.copytree(ROOT / "runware_web", tmp_path / "runware_web", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(tree: Path, module: str, line: str) -> None:
    path = tree / Path(*module.split(".")).with_suffix(".py")
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")


def test_the_tree_keeps_every_contract() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "complaint"),
    [
        # money sits below the features: the ledger may not reach up into the studio
        ("runware_web.money.ledger", "from runware_web.studio import views",
         "runware_web.money is not allowed to import runware_web.studio"),
        # features never import each other
        ("runware_web.studio.views", "from runware_web.chat import models",
         "runware_web.studio is not allowed to import runware_web.chat"),
        # media and money are independent of each other
        ("runware_web.media.store", "from runware_web.money import prices",
         "runware_web.media is not allowed to import runware_web.money"),
        # the simulator imports nothing of the portal
        ("runware_web.simulator.engine", "from runware_web.lib import money",
         "runware_web.simulator is not allowed to import runware_web.lib"),
    ],
)
def test_an_import_that_breaks_a_contract_fails_the_check(tree: Path, module: str, line: str, complaint: str) -> None:
    add_import(tree, module, line)
    result = lint(tree)
    assert result.returncode != 0
    assert complaint in result.stdout


def test_an_import_hidden_inside_a_function_still_counts(tree: Path) -> None:
    """Deferring an import to a function does not get around the layers: it is still an import."""
    add_import(tree, "runware_web.upstream.models", "def _later():\n    from runware_web.runner import runner")
    result = lint(tree)
    assert result.returncode != 0
    assert "runware_web.upstream is not allowed to import runware_web.runner" in result.stdout
