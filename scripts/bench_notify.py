"""Signed paid-notify rate per gateway (``make bench``).

    uv run python scripts/bench_notify.py [--orders N] [--concurrency C]
                                          [--seconds S] [--warmup W]

The shop runs as a real uvicorn server (one web process, logging as in
production) with all four gateways configured with keys made for this run.
For each gateway, N + W orders are created through the buyer API, then each
is paid by the notify that gateway would send, signed exactly as it signs it
(by the sandboxes' own signing code, not the adapters'):

    epay V1      GET  /notify/epay       MD5 over the sorted fields and the key
    epay V2      GET  /notify/epay_v2    SHA256withRSA, timestamp within ±300 s
    Alipay       POST /notify/alipay     RSA2 (SHA256withRSA) form fields
    WeChat v3    POST /notify/wechatpay  SHA256withRSA headers, AES-256-GCM resource

so every measured request includes the signature check (and for WeChat the
timestamp, the nonce recorded in PostgreSQL and the AES-GCM decryption), the
payment, the card key delivered and the notify log row. Notifies are signed
before the phase starts: the load generator's RSA work is not measured. Exit
status 1 when a notify was not acknowledged or a paid order does not hold
exactly its key.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvloop

from benchlib import load, setup
from benchlib.load import Client, Phase
from benchlib.setup import Shop, log
from kameng.cli import pool_share
from kameng.kit.logs import configure_logging
from kameng.kit.money import format_yuan
from kameng.payments.gateways import epay_sign
from kameng.sandbox import rsa_sign
from kameng.sandbox.epay_v2_store import signing_string
from kameng.sandbox.keys import ensure_keypair
from kameng.sandbox.wechatpay import wire
from kameng.sandbox.wechatpay.keys import Identity, load_or_create

CST_NOW = "%Y-%m-%d %H:%M:%S"


@dataclasses.dataclass(frozen=True)
class Signed:
    """One notify ready to send: method, path (with query), body, headers."""

    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Gateway:
    name: str  # the shop's gateway name
    title: str  # the table's row
    signature: str
    ack: Callable[[int, bytes], bool]
    sign: Callable[[str], Signed]  # order number -> its signed paid notify


class RawClient(Client):
    """The bench's keep-alive client, sending a body as given (form or JSON)."""

    async def send(self, notify: Signed) -> tuple[int, bytes]:
        return await self.send_bytes(notify.method, notify.path, notify.body, notify.headers)


def text_ack(status: int, body: bytes) -> bool:
    return status == 200 and body == b"success"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--orders", type=int, default=2000, help="N: notifies per gateway (2000)")
    p.add_argument("--seconds", type=float, default=10, help="S: phase time limit (10)")
    p.add_argument("--concurrency", type=int, default=16, help="C: connections (16)")
    p.add_argument("--warmup", type=int, default=100, help="W: uncounted notifies (100)")
    args = p.parse_args(argv)
    if min(args.orders, args.concurrency) < 1 or args.seconds <= 0 or args.warmup < 0:
        p.error("--orders and --concurrency must be ≥ 1, --seconds > 0, --warmup ≥ 0")
    return args


def gateways(shop: Shop, keys: Path) -> tuple[dict[str, str], list[Gateway]]:
    """The server's extra environment, and each gateway's signer."""
    money = format_yuan(setup.PRICE_CENTS)
    epay_key, pid = shop.env["KAMENG_EPAY_KEY"], shop.env["KAMENG_EPAY_PID"]

    def epay_v1(order_no: str) -> Signed:
        params = {
            "pid": pid,
            "trade_no": f"2026{order_no}",
            "out_trade_no": order_no,
            "type": "alipay",
            "name": setup.PRODUCT_NAME,
            "money": money.rstrip("0").rstrip("."),
            "trade_status": "TRADE_SUCCESS",
        }
        params |= {"sign": epay_sign.sign(params, epay_key), "sign_type": "MD5"}
        return Signed("GET", f"/notify/epay?{urlencode(params)}")

    v2_merchant, v2_platform = (
        ensure_keypair(keys, "v2_merchant"),
        ensure_keypair(keys, "v2_platform"),
    )
    v2_key = rsa_sign.load_private(v2_platform.private_pem())

    def epay_v2(order_no: str) -> Signed:
        fields = {
            "pid": "2001",
            "trade_no": f"2026{order_no}",
            "out_trade_no": order_no,
            "api_trade_no": f"4200{order_no}",
            "type": "alipay",
            "name": setup.PRODUCT_NAME,
            "money": money,
            "trade_status": "TRADE_SUCCESS",
            "timestamp": str(int(time.time())),
        }
        fields |= {"sign": rsa_sign.sign(v2_key, signing_string(fields)), "sign_type": "RSA"}
        return Signed("GET", f"/notify/epay_v2?{urlencode(fields)}")

    app, ali = ensure_keypair(keys, "alipay_app"), ensure_keypair(keys, "alipay_platform")
    ali_key = rsa_sign.load_private(ali.private_pem())
    app_id, seller = "2021000000000001", "2088000000000001"

    def alipay(order_no: str) -> Signed:
        now = datetime.now(UTC).strftime(CST_NOW)
        fields = {
            "notify_time": now,
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "app_id": app_id,
            "auth_app_id": app_id,
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            "trade_no": f"2026{order_no}",
            "out_trade_no": order_no,
            "trade_status": "TRADE_SUCCESS",
            "buyer_id": "2088102177846880",
            "seller_id": seller,
            "subject": setup.PRODUCT_NAME,
            "total_amount": money,
            "receipt_amount": money,
            "buyer_pay_amount": money,
            "gmt_payment": now,
        }
        text = rsa_sign.sorted_pairs(fields, exclude=("sign", "sign_type"))
        fields["sign"] = rsa_sign.sign(ali_key, text)
        return Signed(
            "POST",
            "/notify/alipay",
            urlencode(fields).encode(),
            {"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
        )

    wechat: Identity = load_or_create(keys / "wechatpay")[0]

    def wechatpay(order_no: str) -> Signed:
        resource = {
            "appid": wechat.appid,
            "mchid": wechat.mchid,
            "out_trade_no": order_no,
            "transaction_id": f"42000{order_no}",
            "trade_type": "NATIVE",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "attach": "",
            "success_time": datetime.now(UTC).isoformat(timespec="seconds"),
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {
                "total": setup.PRICE_CENTS,
                "payer_total": setup.PRICE_CENTS,
                "currency": "CNY",
                "payer_currency": "CNY",
            },
        }
        sealed = wire.encrypt_resource(
            wechat.apiv3_key, json.dumps(resource, ensure_ascii=False), "transaction"
        )
        body = json.dumps(
            {
                "id": f"EV-{secrets.token_hex(12)}",
                "create_time": resource["success_time"],
                "resource_type": "encrypt-resource",
                "event_type": "TRANSACTION.SUCCESS",
                "summary": "支付成功",
                "resource": {"original_type": "transaction", **sealed},
            },
            ensure_ascii=False,
        )
        timestamp, nonce = str(int(time.time())), wire.nonce()
        signature = wire.rsa_sign(
            wechat.platform_key, wire.response_message(timestamp, nonce, body)
        )
        headers = {
            "content-type": "application/json",
            "wechatpay-timestamp": timestamp,
            "wechatpay-nonce": nonce,
            "wechatpay-signature": signature,
            "wechatpay-serial": wechat.public_key_id,
            "wechatpay-signature-type": wire.SCHEME,
        }
        return Signed("POST", "/notify/wechatpay", body.encode(), headers)

    env = {
        "KAMENG_EPAY_V2_URL": "https://epay-v2.bench.invalid/",
        "KAMENG_EPAY_V2_PID": "2001",
        "KAMENG_EPAY_V2_MERCHANT_PRIVATE_KEY_FILE": str(v2_merchant.private_path),
        "KAMENG_EPAY_V2_PLATFORM_PUBLIC_KEY_FILE": str(v2_platform.public_path),
        "KAMENG_ALIPAY_GATEWAY_URL": "https://alipay.bench.invalid/gateway.do",
        "KAMENG_ALIPAY_APP_ID": app_id,
        "KAMENG_ALIPAY_SELLER_ID": seller,
        "KAMENG_ALIPAY_APP_PRIVATE_KEY_FILE": str(app.private_path),
        "KAMENG_ALIPAY_PUBLIC_KEY_FILE": str(ali.public_path),
        "KAMENG_WECHATPAY_ENABLED": "true",
        "KAMENG_WECHATPAY_API_URL": "https://wechatpay.bench.invalid",
        "KAMENG_WECHATPAY_MCHID": wechat.mchid,
        "KAMENG_WECHATPAY_APPID": wechat.appid,
        "KAMENG_WECHATPAY_MERCHANT_SERIAL_NO": wechat.merchant_serial_no,
        "KAMENG_WECHATPAY_PRIVATE_KEY_FILE": str(wechat.merchant_key_file),
        "KAMENG_WECHATPAY_APIV3_KEY": wechat.apiv3_key,
        "KAMENG_WECHATPAY_PUBLIC_KEY_FILE": str(wechat.platform_public_key_file),
        "KAMENG_WECHATPAY_PUBLIC_KEY_ID": wechat.public_key_id,
    }
    return env, [
        Gateway("epay", "epay V1", "MD5", text_ack, epay_v1),
        Gateway("epay_v2", "epay V2", "RSA (SHA256withRSA)", text_ack, epay_v2),
        Gateway("alipay", "Alipay", "RSA2 (SHA256withRSA)", text_ack, alipay),
        Gateway(
            "wechatpay",
            "WeChat Pay v3",
            "SHA256withRSA + AES-256-GCM + nonce",
            lambda status, _: status in (200, 204),
            wechatpay,
        ),
    ]


async def create_orders(clients: list[RawClient], gateway: str, n: int) -> list[str]:
    def creator(client: Client) -> Callable[[int], Awaitable[str]]:
        async def create(_: int) -> str:
            body = {"product": setup.SKU, "quantity": 1, "gateway": gateway}
            status, content = await client.request("POST", "/api/shop/orders", body)
            if status != 201:
                raise RuntimeError(f"create {gateway}: {status} {content[:200]!r}")
            return content.split(b'"order_no":"', 1)[1][:16].decode()

        return create

    phase = await load.run(f"{gateway} orders", range(n), [creator(c) for c in clients])
    if phase.failed:
        raise RuntimeError(f"creating {gateway} orders: {phase.errors}")
    return phase.results


def forged(notify: Signed) -> Signed:
    """The same notify with one character of its signature changed."""
    if "wechatpay-signature" in notify.headers:
        signature = notify.headers["wechatpay-signature"]
        flipped = ("1" if signature[0] == "0" else "0") + signature[1:]
        return dataclasses.replace(
            notify, headers=notify.headers | {"wechatpay-signature": flipped}
        )

    def flip(text: str) -> str:
        head, _, tail = text.partition("sign=")
        return f"{head}sign={'1' if tail[:1] == '0' else '0'}{tail[1:]}"

    if notify.body is not None:
        return dataclasses.replace(notify, body=flip(notify.body.decode()).encode())
    return dataclasses.replace(notify, path=flip(notify.path))


def notify_op(client: RawClient, gateway: Gateway) -> Callable[[Signed], Awaitable[None]]:
    async def send(notify: Signed) -> None:
        status, content = await client.send(notify)
        if not gateway.ack(status, content):
            raise RuntimeError(f"{gateway.name} notify: {status} {content[:200]!r}")

    return send


async def bench(
    args: argparse.Namespace, shop: Shop, routes: list[Gateway]
) -> dict[str, Phase[Any]]:
    results: dict[str, Phase[Any]] = {}
    pool = pool_share(args.concurrency, 1)
    with setup.app_server(shop, workers=1, pool_size=pool) as server:
        clients = [RawClient(server.base) for _ in range(args.concurrency)]
        try:
            for gateway in routes:
                orders = await create_orders(clients, gateway.name, args.warmup + args.orders)
                signed = [gateway.sign(no) for no in orders]  # before the clock starts
                # The signature is really checked: a forged one is refused.
                status, content = await clients[0].send(forged(signed[0]))
                if gateway.ack(status, content):
                    raise RuntimeError(f"{gateway.title} acknowledged a forged notify")
                ops = [notify_op(c, gateway) for c in clients]
                await load.run(f"{gateway.title} warm-up", signed[: args.warmup], ops)
                await asyncio.to_thread(setup.settle, shop.url)
                phase = await load.run(
                    gateway.title, signed[args.warmup :], ops, seconds=args.seconds
                )
                args.paid += args.warmup + len(phase.results)
                failed = f", {phase.failed} FAILED: {phase.errors}" if phase.failed else ""
                log(
                    f"{gateway.title}: {len(phase.results)} in {phase.elapsed:.1f}s = "
                    f"{phase.rate:,.0f}/s{failed}"
                )
                results[gateway.title] = phase
        finally:
            for client in clients:
                await client.close()
    return results


def table(
    args: argparse.Namespace, shop: Shop, routes: list[Gateway], results: dict[str, Phase[Any]]
) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"\nkameng notify bench, {when}: PostgreSQL {shop.server_version}, {os.cpu_count()} cores "
        f"shared by PostgreSQL, 1 web process and the load generator",
        f"concurrency {args.concurrency}, N={args.orders} or {args.seconds:g} s per gateway, "
        f"warm-up {args.warmup}; each notify verified, paid, a key delivered, logged",
        "",
        "| gateway | signature checked | paid notifies/s | p50 / p99 ms | failures |",
        "|---|---|---|---|---|",
    ]
    for gateway in routes:
        phase = results[gateway.title]
        lines.append(
            f"| {gateway.title} | {gateway.signature} | {phase.rate:,.0f} | "
            f"{phase.ms(50):.1f} / {phase.ms(99):.1f} | {phase.failed} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging("WARNING", stream=sys.stderr)
    started = time.perf_counter()
    with setup.bench_database() as shop, tempfile.TemporaryDirectory() as keys:
        env, routes = gateways(shop, Path(keys))
        shop = dataclasses.replace(shop, env=shop.env | env)
        args.paid = 0
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(setup.seed(shop, keys=len(routes) * (args.warmup + args.orders) + 100))
            results = runner.run(bench(args, shop, routes))
        delivered, wrong = setup.delivery_check(shop.url)
    sys.stdout.write(table(args, shop, routes, results))
    sys.stdout.write(
        f"orders paid: {args.paid}, delivered: {delivered}, "
        f"delivered without exactly their keys: {wrong}\n"
    )
    log(f"done in {time.perf_counter() - started:.0f}s")
    failed = any(phase.failed for phase in results.values())
    return 1 if failed or wrong or delivered != args.paid else 0


if __name__ == "__main__":
    raise SystemExit(main())
