"""HTML of the sandbox: the cashier (what the buyer's WeChat shows after a scan
or on the H5 landing page) and the trade list."""

from __future__ import annotations

from html import escape

from kameng.sandbox.wechatpay.store import OUTCOMES, Trade

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}"
    "button{display:block;width:100%;margin:.4rem 0;padding:.7rem;font-size:1rem}"
    ".pay{background:#07c160;color:#fff;border:0;border-radius:6px}"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def cashier(trade: Trade, action: str) -> str:
    buttons = "".join(
        f'<button name="outcome" value="{key}"{" class=pay" if key == "notify" else ""}>'
        f"{escape(label)}</button>"
        for key, label in OUTCOMES.items()
    )
    return _page(
        "微信支付 沙箱",
        f"<p>{escape(trade.description)}</p><p style='font-size:2rem'>¥{yuan(trade.total)}</p>"
        f"<p>商户订单号 {escape(trade.out_trade_no)} · 商户号 {escape(trade.mchid)}</p>"
        f'<form method="post" action="{escape(action)}">{buttons}</form>',
    )


def done(trade: Trade, message: str) -> str:
    return _page("微信支付 沙箱", f"<p>{escape(message)}</p><p>{escape(trade.out_trade_no)}</p>")


def error(message: str) -> str:
    return _page("微信支付 沙箱", f"<p>{escape(message)}</p>")


def index(trades: list[Trade], identity_dir: str) -> str:
    rows = "".join(
        f"<tr><td><a href='/sandbox/cashier/{escape(t.prepay_token)}'>"
        f"{escape(t.out_trade_no)}</a></td>"
        f"<td>{yuan(t.total)}</td><td>{escape(t.trade_state)}</td><td>{escape(t.notify_state)}</td></tr>"
        for t in trades
    )
    return _page(
        "微信支付 v3 沙箱 WeChat Pay sandbox",
        f"<p>Keys and trades: <code>{escape(identity_dir)}</code></p>"
        f"<table><tr><th>out_trade_no</th><th>¥</th><th>trade_state</th><th>notify</th></tr>"
        f"{rows}</table>",
    )
