"""How often the box finds the order from what buyers really type or paste.

A fixed, seeded corpus built from the numbers of orders in the database:
labels in Chinese and English with full-width or ASCII punctuation, receipts
that hold other numbers (amount, date, phone), letters for digits, and the
typing mistakes (wrong digit, swapped neighbours, missing or extra digit),
alone and combined. Every input is run through the lookup and its API answer.

Resolved: the right order as the direct hit, or a suggestion list holding it.
Wrong: another existing order as the direct hit. Leak: any detail (product,
amount, status, masked number, full summary) of an order that is not the one
meant. The counts are asserted exactly (the corpus and the numbers are seeded).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import pytest

from kameng.db.engine import libpq_url
from kameng.kit import order_numbers
from kameng.kit.i18n import translator
from kameng.lookup.service import LookupKind, lookup
from kameng.web.query.views import lookup_out
from tests.factories import Sessions, create_product

SEED = 11
ORDERS = 60
LOOKALIKE = {
    "0": "OoD",
    "1": "Il|",
    "2": "Z",
    "5": "S",
    "6": "Gb",
    "8": "B",
    "9": "gq",
}
LABELS = (
    "{n}",
    "订单号：{n}",
    "订单号: {n}",
    "订单号{n}",
    "订单编号：{n}，请妥善保存",
    "【卡盟】您的订单 {n} 已支付，金额 ¥10.00，请查收。",
    "Order No.: {n}",
    "Order number: {n}",
    "Your order #{n} has been paid. Total: ¥10.00",
    "order no {n}",
    "商品：游戏点卡 10 元\n订单号：{n}\n金额：10.00 元\n时间：2026-11-25 12:03:04\n"
    "联系电话：138 0013 8000",
    "Receipt\nOrder: {n}\nAmount: 10.00\nDate: 2026/11/25 12:03\nPhone: +86 139-1234-5678",
    "【kameng】订单（{n}）已发货，客服电话 400-820-8820",
    "查一下这个订单 {n} 谢谢",
)
TYPOS = ("none", "none", "none", "digit", "swap", "missing", "extra")


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def typo(number: str, kind: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(number) - 1)
    match kind:
        case "digit":
            return number[:i] + str((int(number[i]) + rng.randrange(1, 10)) % 10) + number[i + 1 :]
        case "swap":
            j = next((k for k in range(i, len(number) - 1) if number[k] != number[k + 1]), 0)
            return number[:j] + number[j + 1] + number[j] + number[j + 2 :]
        case "missing":
            return number[:i] + number[i + 1 :]
        case "extra":
            return number[:i] + str(rng.randrange(10)) + number[i:]
    return number


def lookalikes(digits: str, rng: random.Random, count: int) -> str:
    chars = list(digits)
    spots = [i for i, c in enumerate(chars) if c in LOOKALIKE]
    for i in rng.sample(spots, min(count, len(spots))):
        chars[i] = rng.choice(LOOKALIKE[chars[i]])
    return "".join(chars)


def grouped(text: str, rng: random.Random) -> str:
    style = rng.choice(("plain", "plain", "space", "dash", "space-irregular"))
    if style == "space":
        return " ".join(text[i : i + 4] for i in range(0, len(text), 4))
    if style == "dash":
        return "-".join(text[i : i + 4] for i in range(0, len(text), 4))
    if style == "space-irregular":
        return text[:3] + " " + text[3:9] + " " + text[9:]
    return text


@dataclass(frozen=True)
class Case:
    target: str
    text: str
    label: int
    typo: str
    lookalikes: int
    fullwidth: bool


def corpus(numbers: list[str], size: int = 560) -> list[Case]:
    rng = random.Random(SEED)
    cases = []
    for k in range(size):
        target = numbers[k % len(numbers)]
        kind = rng.choice(TYPOS)
        swaps = rng.choice((0, 0, 1, 2, 3))
        text = lookalikes(typo(target, kind, rng), rng, swaps)
        label = rng.randrange(len(LABELS))
        text = LABELS[label].format(n=grouped(text, rng))
        wide = rng.random() < 0.25
        cases.append(Case(target, fullwidth(text) if wide else text, label, kind, swaps, wide))
    return cases


def seeded_numbers() -> list[str]:
    rng = random.Random(SEED)
    numbers = []
    while len(numbers) < ORDERS:
        body = str(10**14 + rng.randrange(9 * 10**14))
        numbers.append(body + str(order_numbers.damm_digit(body)))
    return numbers


@pytest.fixture
async def numbers(db: Sessions, database_url: str) -> list[str]:
    product_id = await create_product(db)
    found = seeded_numbers()
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    with psycopg.connect(libpq_url(database_url)) as conn:
        for n in found:
            conn.execute(
                "INSERT INTO orders (order_no, product_id, quantity, unit_price_cents, "
                "amount_cents, gateway, status, delivered_quantity, created_at, expires_at, "
                "updated_at) VALUES (%s, %s, 1, 1000, 1000, 'epay', 'unpaid', 0, %s, %s, %s)",
                (n, product_id, now, now, now),
            )
    return found


async def test_corpus_rates(numbers: list[str], pool: object) -> None:
    from kameng.db.connection import transaction

    cases = corpus(numbers)
    t = translator("zh")
    resolved = wrong = leaks = 0
    missed: list[Case] = []
    async with transaction(pool) as conn:  # type: ignore[arg-type]
        for case in cases:
            result = await lookup(conn, case.text)
            out = lookup_out(result, t)
            hit = out.order.order_no if out.order else None
            if hit is not None and hit != case.target:
                wrong += 1
            if (out.order and hit != case.target) or out.masked_order_no or out.status:
                leaks += 1
            if hit == case.target or (
                result.kind == LookupKind.SUGGESTIONS and case.target in out.suggestions
            ):
                resolved += 1
            else:
                missed.append(case)
    rate = resolved / len(cases)
    assert len(cases) == 560
    assert (wrong, leaks) == (0, 0)
    assert rate >= 0.95, [c.text for c in missed[:20]]
    assert resolved == 560 - len(missed)
    assert (resolved, len(missed)) == EXPECTED, [(c.text, c.typo) for c in missed]


EXPECTED = (560, 0)
