"""The command line: ``python -m salesops [--db PATH] COMMAND ...`` (DESIGN.md section 6).

Each area of the product registers its commands from its own module (``COMMAND_MODULES``);
a command function takes the parsed arguments and returns a :class:`Result` whose ``doc`` is
printed as one JSON document with ``--json`` and whose ``text`` is printed otherwise.

Exit codes: 0 success; 2 bad input or usage (``error: ...`` lines on stderr, nothing
written); 1 a bug (one line on stderr, the traceback only with SALESOPS_DEBUG=1).
"""
from __future__ import annotations

import argparse
import functools
import importlib
import json
import math
import os
import sys
import traceback
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, SalesopsError

#: Modules under salesops.cli that register commands, in help order.
COMMAND_MODULES = ("core", "ingest", "forecast", "pipeline", "planning", "territories", "reports")
MAX_PROBLEM_LINES = 20


@dataclass
class Result:
    """What a command reports: ``doc`` for --json, ``text`` for people."""

    doc: dict = field(default_factory=dict)
    text: str = ""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own usage errors: exit 2 with one clear line
        sys.stderr.write(f"error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(2)


def to_jsonable(value):
    """Convert numpy/pandas values for JSON: NaN and NaT -> null, timestamps -> ISO dates."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [to_jsonable(r) for r in value.to_dict(orient="records")]
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def db_path(args) -> Path:
    """The database named by --db, else SALESOPS_DB, else data/salesops.db."""
    from ..store import default_db_path

    return Path(args.db) if getattr(args, "db", None) else default_db_path()


def common_parent() -> argparse.ArgumentParser:
    """Options every command takes: --db (also accepted after the command) and --json."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--db", default=argparse.SUPPRESS, help="database file (default: SALESOPS_DB or data/salesops.db)")
    parent.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    return parent


def filter_parent() -> argparse.ArgumentParser:
    """The options every reporting command takes, the same as the sidebar: --as-of and
    --region, --team, --rep, --segment (repeat or comma-separate values)."""
    from ..filters import FIELDS, LABELS

    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--as-of", dest="as_of", metavar="DATE",
                        help="count what was known on this day (YYYY-MM-DD; default: the data's as-of date)")
    for name in FIELDS:
        parent.add_argument(f"--{name.replace('_', '-')}", dest=name, action="append", metavar="NAME",
                            help=f"only this {LABELS[name].lower()} (repeat, or separate with commas)")
    return parent


def option_date(text: str | None, option: str) -> date | None:
    """The date an option was given as (YYYY-MM-DD), or None; anything else is refused naming the option."""
    if text is None or isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise InputError(f"{option} {text!r} is not a date; use YYYY-MM-DD") from None


def workspace_and_filters(args, *, period: str | None = None, as_of=None):
    """(workspace, Filters) for a command: the database of --db, the period of ``period``
    (default --period, else the quarter of the as-of date), the as-of date of ``as_of``
    (default --as-of, else the data's) and the slice of --region/--team/--rep/--segment.
    Unknown values are refused (exit 2)."""
    from .. import workspace
    from ..filters import FIELDS, Filters, split_values

    ws = workspace.load_current(db_path(args))
    fields = {}
    for name in FIELDS:
        given = getattr(args, name, None) or []
        fields[name] = [v for g in given for v in split_values(g)]
    f = Filters.make(ws, period=period if period is not None else getattr(args, "period", None),
                     as_of=as_of if as_of is not None else option_date(getattr(args, "as_of", None), "--as-of"),
                     **fields)
    f.check(ws)
    return ws, f


@functools.lru_cache(maxsize=1)
def build_parser() -> argparse.ArgumentParser:
    """The whole command line (built once per process: its sixty-odd options take 13 ms to
    declare, and parsing never changes the parser)."""
    parser = _Parser(prog="python -m salesops", description="salesops: the sales-operations workbench, from the command line.")
    parser.add_argument("--db", help="database file (default: SALESOPS_DB or data/salesops.db)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    parent = common_parent()
    report = argparse.ArgumentParser(add_help=False, parents=[parent, filter_parent()])
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(sub, parent, report)
    return parser


def _print_problems(exc: InputError) -> None:
    lines = [f"error: {exc}"]
    errors = [p for p in exc.problems if p.severity == "error"] or exc.problems
    errors = [p for p in errors if p.describe() != str(exc)]  # the message already says it
    for p in errors[:MAX_PROBLEM_LINES]:
        lines.append(f"error: {p.describe()}")
    if len(errors) > MAX_PROBLEM_LINES:
        lines.append(f"error: ... and {len(errors) - MAX_PROBLEM_LINES} more problems")
    sys.stderr.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        result: Result = args.func(args)
    except InputError as exc:
        _print_problems(exc)
        return 2
    except SalesopsError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted; nothing was written by the unfinished step\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a bug, reported in one line
        from .. import store

        if store.is_damage(exc):  # a damaged file met by a read no store function wrapped
            sys.stderr.write(f"error: {store.damaged_message(db_path(args), str(exc))}\n")
            return 2
        if os.environ.get("SALESOPS_DEBUG"):
            traceback.print_exc()
        sys.stderr.write(f"error: internal error ({type(exc).__name__}: {exc}); "
                         "this is a bug in salesops; set SALESOPS_DEBUG=1 for details\n")
        return 1
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(to_jsonable(result.doc), ensure_ascii=False) + "\n")
    elif result.text:
        sys.stdout.write(result.text.rstrip("\n") + "\n")
    return 0
