"""``atende audit verify|export|checkpoint``: the auditor's commands."""

from __future__ import annotations

import argparse
import functools
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from application.errors import TicketNotFound

EXIT_BROKEN = 1
EXIT_USAGE = 2


def add_audit_commands(commands: Any) -> None:
    audit = commands.add_parser("audit", help="verify, export and checkpoint the event log")
    actions = audit.add_subparsers(required=True, metavar="ACTION")

    verify = actions.add_parser("verify", help="check every hash; exit 1 naming the first break")
    source = verify.add_mutually_exclusive_group()
    source.add_argument("--ticket", type=UUID, help="only this ticket's chain")
    source.add_argument("--file", type=Path, help="an export file, offline (no database)")
    verify.add_argument(
        "--public-key",
        help="with --file: the deployment's anchor key (atende audit public-key) to check "
        "the anchors a range export carries",
    )
    verify.set_defaults(run=_verify)

    export = actions.add_parser("export", help="write events as JSON Lines to stdout")
    which = export.add_mutually_exclusive_group(required=True)
    which.add_argument("--ticket", type=UUID)
    which.add_argument("--from", dest="start", type=_instant, help="ISO-8601 with offset")
    export.add_argument("--to", dest="end", type=_instant, help="ISO-8601 with offset")
    export.set_defaults(run=_export)

    checkpoint = actions.add_parser("checkpoint", help="sign the chain's head now")
    checkpoint.set_defaults(run=_checkpoint)

    public_key = actions.add_parser(
        "public-key", help="print the Ed25519 key that verifies this deployment's anchors"
    )
    public_key.set_defaults(run=_public_key)

    retake = actions.add_parser(
        "retake-snapshots", help="make again, from the events, every snapshot verify names"
    )
    retake.set_defaults(run=_retake_snapshots)


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 instant") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs an offset, e.g. Z or -03:00")
    return moment


def _verify(args: argparse.Namespace) -> int:
    if args.file is not None:
        return _verify_file(args.file, args.public_key)
    from interface.wiring import bootstrap

    atende = bootstrap()
    try:
        audit = atende.audit
        report = audit.verify() if args.ticket is None else audit.verify_ticket(args.ticket)
    except TicketNotFound as error:
        print(f"audit verify: {error}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        atende.close()
    return _print_report(report)


def _verify_file(path: Path, public_key: str | None) -> int:
    from application.audit_file import ExportFileError, verify_export
    from infrastructure.anchors import is_signed
    from interface.audit_export import readable_fields

    if not path.is_file():
        print(f"audit verify: no such file: {path}", file=sys.stderr)
        return EXIT_USAGE
    holds = None if public_key is None else functools.partial(is_signed, public_key)
    try:
        with path.open(encoding="utf-8") as lines:
            report = verify_export(lines, readable_fields, holds)
    except (ExportFileError, UnicodeDecodeError) as error:
        print(f"audit verify: {path}: {error}", file=sys.stderr)
        return EXIT_BROKEN
    if public_key is None and report.ok:
        print("Anchors not checked: give --public-key (atende audit public-key) to check them.")
    return _print_report(report)


def _print_report(report: Any) -> int:
    if report.ok:
        print(
            f"OK: {report.checked} events verified up to position {report.head_position}"
            f" ({report.checkpoints} signed checkpoints)"
        )
        _print_window(report.unanchored)
        return 0
    print(f"BROKEN: {report.first_break}", file=sys.stderr)
    return EXIT_BROKEN


def _print_window(window: Any) -> None:
    if window is None:
        return
    if window.anchored_position is None:
        print(f"UNANCHORED: no anchor outside the database yet; {window.events} events")
        return
    seconds = "" if window.seconds is None else f", {window.seconds:.0f} s"
    print(f"Anchored up to position {window.anchored_position}; unanchored tail: "
          f"{window.events} events{seconds}")  # fmt: skip


def _export(args: argparse.Namespace) -> int:
    from interface.audit_export import export_lines
    from interface.wiring import bootstrap

    if args.ticket is None and (args.end is None or args.end < args.start):
        print("audit export: --to is required and must not be before --from", file=sys.stderr)
        return EXIT_USAGE
    atende = bootstrap()
    try:
        if args.ticket is not None:
            scope, rows = atende.audit.export_ticket(args.ticket)
        else:
            scope, rows = atende.audit.export_range(args.start, args.end)
        out = sys.stdout.buffer
        for line in export_lines(scope, rows):
            out.write(line)
        out.flush()
    except TicketNotFound as error:
        print(f"audit export: {error}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        atende.close()
    return 0


def _checkpoint(args: argparse.Namespace) -> int:
    from interface.wiring import bootstrap

    atende = bootstrap()
    try:
        checkpoint = atende.audit.checkpoint()
    finally:
        atende.close()
    if checkpoint is None:
        print("The log is empty: nothing to sign.")
    else:
        print(f"Signed position {checkpoint.position} ({checkpoint.chain_hash}).")
    return 0


def _public_key(args: argparse.Namespace) -> int:
    from infrastructure.anchors import AnchorSigner
    from infrastructure.settings import Settings, secret_key_for

    print(AnchorSigner(secret_key_for(Settings.from_env())).public_key)
    return 0


def _retake_snapshots(args: argparse.Namespace) -> int:
    from interface.wiring import bootstrap

    atende = bootstrap()
    try:
        count = atende.audit.retake_snapshots()
    finally:
        atende.close()
    print(f"Made {count} snapshots again from their events.")
    return 0
