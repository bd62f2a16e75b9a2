"""``kameng channel``: what an operator types, and what it never prints."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kameng.cli import app


def kameng(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_add_list_set_disable_enable(cli_env: None, tmp_path: Path) -> None:
    public = tmp_path / "platform.pem"
    public.write_text(
        "-----BEGIN PUBLIC KEY-----\n"
        "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n"
        "-----END PUBLIC KEY-----\n"
    )
    code, out = kameng(
        "channel", "add", "shop-pay", "--kind", "epay_v1",
        "--set", "url=https://pay.example.com/", "--set", "pid=1001", "--set", "key=-",
        "--label-zh", "易支付", "--label-en", "Epay",
        stdin="merchant-secret-123\n",
    )  # fmt: skip
    assert code == 0, out
    assert "channel shop-pay (epay_v1) added, enabled; notify URL" in out
    code, out = kameng("channel", "list", "--json")
    assert code == 0
    assert json.loads(out) == [
        {
            "name": "shop-pay",
            "kind": "epay_v1",
            "enabled": True,
            "sort": 100,
            "label_zh": "易支付",
            "label_en": "Epay",
            "settings": {"pid": "1001", "url": "https://pay.example.com/"},
            "secrets_set": ["key"],
            "missing": [],
        }
    ]
    code, out = kameng("channel", "list")
    assert "merchant-secret" not in out
    assert "  key = (secret, set)" in out
    # Clearing the secret of an enabled channel is refused, nothing changes.
    code, out = kameng("channel", "set", "shop-pay", "--set", "key=")
    assert code == 1
    assert "Channel shop-pay cannot be enabled while these are empty: key" in out
    assert kameng("channel", "disable", "shop-pay")[0] == 0
    assert kameng("channel", "set", "shop-pay", "--set", "key=")[0] == 0
    code, out = kameng("channel", "enable", "shop-pay")
    assert (code, "empty: key" in out) == (1, True)
    assert kameng("channel", "set", "shop-pay", "--set", "key=new-secret")[0] == 0
    assert kameng("channel", "enable", "shop-pay")[0] == 0
    code, out = kameng("channel", "add", "x", "--kind", "paypal")
    assert code == 1 and "Unknown channel kind paypal" in out
    code, out = kameng(
        "channel", "add", "v2", "--kind", "epay_v2", "--set-file", f"platform_public_key={public}",
        "--disabled",
    )  # fmt: skip
    assert code == 0, out
    code, out = kameng("channel", "list")
    assert "platform_public_key = MIIBIjANBgkqhkiG9w0BAQEF… (" in out
    assert "missing: url, pid, merchant_private_key" in out
    assert [c["name"] for c in json.loads(kameng("channel", "list", "--json")[1])] == [
        "shop-pay",
        "v2",
    ]
