"""``atende kb import FILE``: bring an existing FAQ into the knowledge base."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_kb_commands(commands: Any) -> None:
    kb = commands.add_parser("kb", help="the knowledge base")
    actions = kb.add_subparsers(required=True, metavar="ACTION")
    load = actions.add_parser(
        "import",
        help="import articles from a JSON Lines file (one article per line, as POST "
        "/v1/kb/articles takes it, with an optional state) or a folder of "
        "<slug>/<language>.md pages (first line: the title)",
    )
    load.add_argument("source", type=Path, metavar="FILE")
    load.set_defaults(run=_import)


def _import(args: argparse.Namespace) -> int:
    from interface.kb_import import import_articles
    from interface.wiring import bootstrap

    if not args.source.exists():
        print(f"no such file or folder: {args.source}")
        return 2
    atende = bootstrap()
    try:
        report = import_articles(atende.kb, args.source)
    finally:
        atende.close()
    for where, why in report.refused:
        print(f"refused {where}: {why}")
    print(
        f"{len(report.created)} articles imported, {len(report.existing)} already there "
        f"(left as they are), {len(report.refused)} refused"
    )
    return 1 if report.refused else 0
