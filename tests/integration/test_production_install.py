"""A production install (`pip install .`, no development extras) gives a working `haven`
(issue 14): no command may need a development dependency to be imported.

The development extras are made unimportable in a fresh interpreter, then every
command's help is asked for.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib

from tests.support.processes import REPO_ROOT

SCRIPT = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # `import name` now raises ImportError
from typer.main import get_command
from services.cli import app
command = get_command(app)
def walk(group, path):
    yield path
    for name, sub in getattr(group, "commands", {{}}).items():
        yield from walk(sub, [*path, name])
from typer.testing import CliRunner
failed = []
for path in walk(command, []):
    result = CliRunner().invoke(app, [*path, "--help"])
    if result.exit_code != 0:
        failed.append((path, repr(result.exception)))
print("checked", len(list(walk(command, []))), "failed", failed)
sys.exit(1 if failed else 0)
"""


def _development_modules() -> list[str]:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    names = [spec.split("==")[0].split("[")[0].lower()
             for spec in pyproject["project"]["optional-dependencies"]["dev"]]
    runtime = {spec.split("==")[0].split("[")[0].lower()
               for spec in pyproject["project"]["dependencies"]}
    # Only what the production install lacks; import names as the packages spell them.
    return [name.replace("-", "_") for name in names if name not in runtime]


def test_every_haven_command_loads_without_the_development_extras() -> None:
    blocked = _development_modules()
    assert "aiosmtpd" in blocked
    result = subprocess.run([sys.executable, "-c", SCRIPT.format(blocked=blocked)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed []" in result.stdout
