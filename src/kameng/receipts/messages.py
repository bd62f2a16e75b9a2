"""The words of each receipt, in the buyer's language, as plain text and simple HTML.

A receipt names the order and links to its page; it never carries the goods
(card numbers, passwords, vouchers): a mailbox is read by more people and
programs than the order page, which shows the goods only to their owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from kameng.kit.i18n import N_, Translator
from kameng.kit.money import format_yuan
from kameng.models.vocabulary import ReceiptKind
from kameng.receipts.mailer import Mail


@dataclass(frozen=True, slots=True)
class ReceiptFacts:
    """What a receipt may say about its order (nothing secret)."""

    kind: ReceiptKind
    to: str
    order_no: str
    product_name: str
    quantity: int
    amount_cents: int
    refunded_cents: int  # refunds only
    order_url: str
    query_url: str


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    link: str | None = None  # shown after the text; a link in the HTML part
    number: str | None = None  # the order number: after the text, large in HTML


SUBJECTS = {
    ReceiptKind.CREATED: N_("Your order %(order_no)s"),
    ReceiptKind.DELIVERED: N_("Your goods are ready: order %(order_no)s"),
    ReceiptKind.REFUNDED: N_("Refund for order %(order_no)s"),
}


def _lines(facts: ReceiptFacts, t: Translator) -> list[Line]:
    number = [Line(t(N_("Order number:")), number=facts.order_no)]
    what = Line(
        t(
            N_("%(product)s × %(quantity)s, %(amount)s yuan"),
            product=facts.product_name,
            quantity=facts.quantity,
            amount=format_yuan(facts.amount_cents),
        )
    )
    if facts.kind == ReceiptKind.CREATED:
        return [
            Line(t(N_("Thank you for your order. Keep this number: it finds your order."))),
            *number,
            what,
            Line(t(N_("Pay and follow your order on its page:")), facts.order_url),
            Line(
                t(
                    N_(
                        "Lost the page? Look the order up with its number, "
                        "or your contact and query password:"
                    )
                ),
                facts.query_url,
            ),
        ]
    if facts.kind == ReceiptKind.DELIVERED:
        return [
            Line(t(N_("Your order has been delivered."))),
            *number,
            what,
            Line(t(N_("Your goods are on the order page:")), facts.order_url),
            Line(
                t(
                    N_(
                        "For your safety this e-mail does not contain them: the page shows them "
                        "in the browser you ordered with, or after you enter your query password."
                    )
                )
            ),
        ]
    return [
        Line(
            t(
                N_("%(amount)s yuan has been refunded for your order."),
                amount=format_yuan(facts.refunded_cents),
            )
        ),
        *number,
        what,
        Line(
            t(
                N_(
                    "The money goes back the way you paid; depending on the payment platform "
                    "it can take a few days to arrive."
                )
            )
        ),
        Line(t(N_("Order page:")), facts.order_url),
    ]


def compose(facts: ReceiptFacts, t: Translator) -> Mail:
    subject = t(SUBJECTS[facts.kind], order_no=facts.order_no)
    lines = _lines(facts, t)
    footer = t(N_("You receive this e-mail because this address was given when ordering."))
    text = "\n\n".join(_plain(line) for line in lines) + f"\n\n-- \n{footer}\n"
    return Mail(to=facts.to, subject=subject, text=text, html=_html(subject, lines, footer, t))


def _plain(line: Line) -> str:
    if line.number:
        return f"{line.text} {line.number}"
    return f"{line.text}\n{line.link}" if line.link else line.text


def _html(subject: str, lines: list[Line], footer: str, t: Translator) -> str:
    parts = []
    for line in lines:
        if line.number:
            parts.append(
                f"<p>{escape(line.text)}<br>"
                '<span style="font:bold 24px/1.3 monospace;letter-spacing:1px">'
                f"{escape(line.number)}</span></p>"
            )
        elif line.link:
            href = escape(line.link, quote=True)
            parts.append(f'<p>{escape(line.text)}<br><a href="{href}">{escape(line.link)}</a></p>')
        else:
            parts.append(f"<p>{escape(line.text)}</p>")
    body = "\n".join(parts)
    return (
        f'<!doctype html>\n<html lang="{escape(t.html_lang)}"><head><meta charset="utf-8">'
        f"<title>{escape(subject)}</title></head>\n"
        '<body style="font:16px/1.5 sans-serif;color:#222;max-width:560px;margin:0 auto;'
        'padding:16px">\n'
        f"{body}\n"
        f'<p style="color:#777;font-size:13px">{escape(footer)}</p>\n</body></html>\n'
    )
