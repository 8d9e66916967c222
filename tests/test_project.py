"""Project hygiene: notebooks stripped and thin, environment.yml agrees with pyproject.toml."""

from __future__ import annotations

import re
import tomllib

import nbformat
import pytest
import yaml

from terrlib import config

NOTEBOOKS = sorted(config.NOTEBOOKS.glob("*.ipynb"))


def test_five_notebooks():
    assert [p.stem for p in NOTEBOOKS] == list(config.STAGE_NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_stripped_and_thin(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip outputs"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and nb.cells.index(params[0]) == 1
    for line in params[0].source.splitlines():
        assert re.match(r"^\w+: \w+ = .+  # .+$", line), line
    for cell in code:
        assert not re.search(r"^\s*(def|class) ", cell.source, re.M)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((config.PROJECT_ROOT / "pyproject.toml").read_text())
    wanted = {_name(r) for r in project["project"]["dependencies"]}
    wanted |= {_name(r) for r in project["dependency-groups"]["dev"]}
    env = yaml.safe_load((config.PROJECT_ROOT / "environment.yml").read_text())
    listed = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            listed |= {_name(r) for r in dep["pip"] if not r.startswith("-")}
        else:
            listed.add(_name(dep.split("=")[0] if "=" in dep and ">" not in dep else dep))
    listed.discard("python")
    listed.discard("pip")
    assert wanted == listed


def test_readme_opens_with_the_two_commands():
    readme = (config.PROJECT_ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, re.S)
    assert blocks and blocks[0].split() == ["make", "report", "make", "test"]
    assert "make test" in (config.PROJECT_ROOT / ".ci" / "run").read_text()
