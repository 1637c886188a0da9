"""Commands written in markdown, as the tests that run documents read them.

Runbooks name their steps as inline code, `lakehouse ...` (:data:`LAKEHOUSE_COMMAND`, read by
tests/cli/test_runbook_commands.py); guides such as docs/QUICK_START.md list them in ```bash blocks, one command
per line (:func:`fenced_commands`, read by tests/functional/test_quick_start.py).
"""

from __future__ import annotations

import re
import shlex

LAKEHOUSE_COMMAND = re.compile(r"`(lakehouse [^`]+)`")
"""An inline `lakehouse ...` command (the runbooks' steps)."""
FENCE = re.compile(r"^```(\S*)\s*$")
SEPARATORS = {"&&", "||", ";", "|"}
REDIRECTIONS = {">", ">>", "<", "2>", "&>"}


def fenced_commands(text: str, language: str = "bash") -> list[str]:
    """The non-blank lines of the ```<language> blocks of ``text``, in order, each as written."""
    commands: list[str] = []
    inside = False
    for line in text.splitlines():
        fence = FENCE.match(line.strip())
        if fence:
            inside = not inside and fence.group(1) == language
            continue
        if inside and line.strip() and not line.lstrip().startswith("#"):
            commands.append(line.strip())
    return commands


def simple_commands(line: str) -> list[list[str]]:
    """The simple commands of one shell line (split at ``&&``, ``||``, ``;``, ``|``), each as its words, with
    comments and redirections (the operator and its target) left out.

    >>> simple_commands('mkdir -p b && echo "# x" >> b/f  # note')
    [['mkdir', '-p', 'b'], ['echo', '# x']]
    """
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    redirected = False
    for token in lexer:
        if token in SEPARATORS:
            commands.append([])
        elif token in REDIRECTIONS:
            redirected = True
        elif redirected:
            redirected = False
        else:
            commands[-1].append(token)
    return [c for c in commands if c]
