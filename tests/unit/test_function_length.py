"""The function-length check that `make lint` runs (tools/function_length.py): it finds what it must."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import function_length  # noqa: E402


def _function(name: str, body_lines: int, indent: str = "") -> str:
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(body_lines))
    return f"{indent}def {name}():\n{body}"


def test_counts_from_def_to_last_line_and_names_methods():
    source = (
        "import functools\n\n"
        "@functools.cache\n" + _function("fits", 59) + "\n"  # 60 lines with its def: allowed
        "class Stack:\n" + _function("__init__", 60, indent="    ")  # 61 lines: too long
    )
    assert function_length.long_functions(source, 60) == [(66, "Stack.__init__", 61)]


def test_nested_functions_are_checked_on_their_own():
    source = "def outer():\n" + _function("inner", 70, indent="    ") + "    return inner\n"
    found = function_length.long_functions(source, 60)
    assert [name for _, name, _ in found] == ["outer", "outer.inner"]


def test_tests_and_virtualenv_are_skipped(tmp_path):
    for folder in ("tests", ".venv", "pkg"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "m.py").write_text(_function("long", 80))
    assert [p.relative_to(tmp_path).parts[0] for p in function_length.python_files([tmp_path])] == ["pkg"]


def test_exit_status_and_message(tmp_path):
    (tmp_path / "m.py").write_text(_function("long_one", 61))
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "function_length.py"), "--max", "60", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert "m.py:1: long_one is 62 lines (at most 60)" in run.stdout
    (tmp_path / "m.py").write_text(_function("short", 10))
    ok = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "function_length.py"), str(tmp_path)], capture_output=True, check=False
    )
    assert ok.returncode == 0
