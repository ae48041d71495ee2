# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Numbers and shell commands as the cards write them."""

from __future__ import annotations

import re
import shlex

from .paths import portable_text, scan_local_paths


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def millions(count: int) -> str:
    return f"{count / 1e6:.2f} M" if count >= 1e6 else f"{count:,}"


def value_range(values: list[float], fmt: str = ".2f") -> str:
    """``low-high`` of ``values`` (one number when both print the same)."""
    low, high = format(min(values), fmt), format(max(values), fmt)
    return low if low == high else f"{low}-{high}"


def signed(value: float, fmt: str) -> str:
    """A difference as the cards write it: ``value`` formatted with ``fmt``, ``+`` in front when ``value >= 0``."""
    return f"{'+' if value >= 0 else ''}{value:{fmt}}"


def shell(argv: list[str], width: int = 100) -> str:
    """One shell command, wrapped with ``\\`` before options so that lines stay under ``width``."""
    groups: list[list[str]] = []
    for token in argv:
        if not groups or (token.startswith("--") and len(groups[-1]) and not groups[-1][0].startswith("#")):
            groups.append([])
        groups[-1].append(token)
    lines, line = [], ""
    for group in groups:
        text = " ".join(shlex.quote(t) if not re.fullmatch(r"[\w@%+=:,./{}*-]+", t) else t for t in group)
        if line and len(line) + 1 + len(text) > width:
            lines.append(line + " \\")
            line = "    " + text
        else:
            line = f"{line} {text}" if line else text
    lines.append(line)
    return "\n".join(lines)


def flags(args: dict, keys: list[str]) -> list[str]:
    """``--key value`` tokens for ``keys`` of a saved argparse namespace (None / False / [] skipped)."""
    tokens: list[str] = []
    for key in keys:
        if key not in args:
            continue
        value = args[key]
        if value is None or value is False or value == [] or value == "":
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            tokens.append(flag)
        elif isinstance(value, list):
            tokens += [flag, *(portable_text(str(v)) for v in value)]
        else:
            tokens += [flag, portable_text(str(value))]
    return tokens


def wrap(command: str, width: int = 100) -> str:
    """A recorded shell command (possibly several lines, ``#`` comments kept) wrapped before options."""
    lines = []
    for line in command.splitlines():
        if len(line) <= width or line.lstrip().startswith("#"):
            lines.append(line)
            continue
        try:
            lines.append(shell(shlex.split(line), width))
        except ValueError:  # unbalanced quotes: keep as is
            lines.append(line)
    return "\n".join(lines)


def recorded_command(results: dict, module: str, args: dict, skip: tuple[str, ...] = ()) -> str:
    """The command saved in the results (made portable), or one rebuilt from its saved arguments."""
    command = str(results.get("command") or "").strip()
    if command and command != f"python -m {module}":
        return wrap(portable_text(command))
    keys = [key for key in args if key not in skip]
    return shell(["python", "-m", module, *flags(args, keys)])


def paths_note(results: dict) -> str:
    """What a card adds after naming its results file when that file holds absolute local paths."""
    return " (absolute local paths of the run are shown repository-relative)" if scan_local_paths(results) else ""
