"""``kameng channel add|list|set|enable|disable``: payment channels for operators.

Values are given as ``--set key=value`` (``key=-`` reads the value from stdin,
so a secret stays out of the shell history) or ``--set-file key=path`` (PEM
keys). ``list`` never prints a secret: only whether it is set.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from kameng.cli_common import in_transaction, keyed_settings

T = TypeVar("T")

channel_app = typer.Typer(
    help="Payment channels (epay V1/V2, Alipay, WeChat Pay): add, list, set, enable, disable."
)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="key=value (key=- reads the value from stdin); repeatable."),
]
SetFileOption = Annotated[
    list[str] | None,
    typer.Option("--set-file", help="key=path: the value is the file's content (PEM keys)."),
]


def parse_values(pairs: list[str] | None, files: list[str] | None) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"--set takes key=value, not {pair!r}")
        values[key.strip()] = sys.stdin.readline().rstrip("\r\n") if value == "-" else value
    for pair in files or []:
        key, sep, path = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"--set-file takes key=path, not {pair!r}")
        try:
            values[key.strip()] = Path(path).expanduser().read_text()
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {path}: {exc.strerror}") from None
    return values


@channel_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Name, also in the notify URL (/notify/NAME).")],
    kind: Annotated[str, typer.Option(help="epay_v1, epay_v2, alipay or wechatpay_v3.")],
    set_: SetOption = None,
    set_file: SetFileOption = None,
    label_zh: Annotated[str, typer.Option(help="Label buyers see (Chinese).")] = "",
    label_en: Annotated[str, typer.Option(help="Label buyers see (English).")] = "",
    sort: Annotated[int, typer.Option(help="Lower is shown first.")] = 100,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it switched off.")] = False,
) -> None:
    """Add a channel. It is enabled unless --disabled; enabling needs every required setting."""
    from kameng.kit import clock
    from kameng.payments.channels import service

    channel_kind = _kind(kind)
    values = parse_values(set_, set_file)
    settings = keyed_settings("channel")
    draft = service.ChannelDraft(
        name=name, kind=channel_kind, values=values, enabled=not disabled,
        label_zh=label_zh, label_en=label_en, sort_order=sort,
    )  # fmt: skip
    cipher = settings.card_key_cipher()
    in_transaction(settings, lambda conn: service.add(conn, draft, cipher=cipher, now=clock.now()))
    state = "disabled" if disabled else "enabled"
    typer.echo(f"channel {name} ({channel_kind.value}) added, {state}; notify URL "
               f"{settings.public_url.rstrip('/')}/notify/{name}")  # fmt: skip


def _kind(text: str) -> Any:
    from kameng.kit.errors import DomainError
    from kameng.kit.i18n import locale_from_env, translator
    from kameng.payments.channels import service

    try:
        return service.kind_named(text)
    except DomainError as exc:
        typer.echo(exc.translated(translator(locale_from_env())), err=True)
        raise typer.Exit(1) from None


@channel_app.command("set")
def set_command(
    name: str,
    set_: SetOption = None,
    set_file: SetFileOption = None,
    label_zh: Annotated[str | None, typer.Option()] = None,
    label_en: Annotated[str | None, typer.Option()] = None,
    sort: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Change settings (key= clears one), labels or order. Every process uses the
    change within a second."""
    _change(name, values=parse_values(set_, set_file), label_zh=label_zh, label_en=label_en,
            sort_order=sort)  # fmt: skip
    typer.echo(f"channel {name} updated")


@channel_app.command("enable")
def enable(name: str) -> None:
    """Switch a channel on (refused while a required setting is empty)."""
    _change(name, enabled=True)
    typer.echo(f"channel {name} enabled")


@channel_app.command("disable")
def disable(name: str) -> None:
    """Switch a channel off: no new orders on it, and its notifies are refused
    (and recorded) until it is enabled again."""
    _change(name, enabled=False)
    typer.echo(f"channel {name} disabled")


def _change(name: str, **changes: Any) -> None:
    from kameng.kit import clock
    from kameng.payments.channels import service

    settings = keyed_settings("channel")
    cipher = settings.card_key_cipher()
    in_transaction(
        settings,
        lambda conn: service.change(conn, name, cipher=cipher, now=clock.now(), **changes),
    )


@channel_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Channels with their plain settings; secrets only as set or missing."""
    from kameng.payments.channels import service

    settings = keyed_settings("channel")
    cipher = settings.card_key_cipher()
    found = in_transaction(settings, lambda conn: service.summaries(conn, cipher=cipher))
    rows: list[dict[str, Any]] = [
        {
            "name": c.name,
            "kind": c.kind.value,
            "enabled": c.enabled,
            "sort": c.sort_order,
            "label_zh": c.label_zh,
            "label_en": c.label_en,
            "settings": {k: _shown(v) for k, v in sorted(c.settings.items())},
            "secrets_set": c.secrets_set,
            "missing": c.missing,
        }
        for c in found
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if not rows:
        typer.echo("no payment channel yet: kameng channel add NAME --kind KIND --set key=value")
    for r in rows:
        state = "enabled" if r["enabled"] else "DISABLED"
        typer.echo(f"{r['name']} ({r['kind']}) {state} sort {r['sort']} "
                   f"“{r['label_zh']}” / “{r['label_en']}”")  # fmt: skip
        for key, value in r["settings"].items():
            typer.echo(f"  {key} = {value}")
        for key in r["secrets_set"]:
            typer.echo(f"  {key} = (secret, set)")
        if r["missing"]:
            typer.echo(f"  missing: {', '.join(r['missing'])}")


def _shown(value: str) -> str:
    """Public keys are long: their first line is enough to tell them apart."""
    if "\n" in value.strip():
        first = value.strip().splitlines()
        return f"{first[1][:24] if len(first) > 1 else first[0][:24]}… ({len(value)} chars)"
    return value


def register(app: typer.Typer) -> None:
    app.add_typer(channel_app, name="channel")
