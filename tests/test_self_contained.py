"""The tests need nothing outside the repository: a clone in an empty directory, with
nothing beside it, passes.  What they compare against lives in tests/ (tests/data,
tests/golden), its source named in the file.  This checks the tests' sources for the
ways a test has reached out before: a path above the checkout, or an absolute path of
one machine."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REACHING_OUT = re.compile(
    r"parents\[[2-9]\]"  # above the checkout: tests/x.py -> parents[1] is the root
    r"|\.\./shared"  # the workspace beside the checkout, by a relative path
    r"|[\"']/work/"  # this workspace's absolute paths
)


def test_no_test_reads_outside_the_repository():
    offenders = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                 for path in sorted((ROOT / "tests").rglob("*.py")) if path != Path(__file__).resolve()
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
                 if REACHING_OUT.search(line)]
    assert offenders == []


def test_the_check_catches_what_it_is_for():
    for line in ('MANUAL = Path(__file__).resolve().parents[2] / "shared"', 'open("../shared/reference/x")',
                 'Path("/work/shared/reference/mcp-manual-smclient.rst")'):
        assert REACHING_OUT.search(line), line
    assert not REACHING_OUT.search('ROOT = Path(__file__).resolve().parents[1]')


OUTSIDE_DOCUMENT = re.compile(r"\bSPEC\b|SPEC\.md|DESIGN\.md|shared/reference")


def test_the_code_cites_only_what_the_repository_holds():
    """Comments and docstrings cite the README and the tests, not the documents this
    project was written from (they are not in the repository)."""
    offenders = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                 for folder in ("smclient", "sdamanager_stub", "tests", "bench", "deploy")
                 for path in sorted((ROOT / folder).rglob("*")) if path.suffix in {".py", ".txt", ".yaml", ".toml"}
                 and "api" not in path.relative_to(ROOT).parts and path != Path(__file__).resolve()
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
                 if OUTSIDE_DOCUMENT.search(line)]
    offenders += [f"{name}:{number}: {line.strip()}"
                  for name in ("README.md", "Makefile", "Dockerfile", "pyproject.toml")
                  for number, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines(), start=1)
                  if OUTSIDE_DOCUMENT.search(line)]
    assert offenders == []
    assert OUTSIDE_DOCUMENT.search("exits with the status of SPEC section 5")
    assert not OUTSIDE_DOCUMENT.search("ACCESS_LEVEL_UNSPECIFIED")
