"""HTML of the epay sandbox: phone-friendly, Chinese, no external assets."""

from __future__ import annotations

from html import escape

from kameng.kit.money import format_yuan
from kameng.sandbox.epay_store import PAY_TYPES, Trade, wall

_CSS = """
*{box-sizing:border-box}body{margin:0;font:16px/1.6 -apple-system,"PingFang SC",
"Microsoft YaHei",sans-serif;background:#f2f4f7;color:#222}
.box{max-width:420px;margin:24px auto;padding:20px;background:#fff;border-radius:10px;
box-shadow:0 1px 4px rgba(0,0,0,.08)}h1{font-size:20px;margin:0 0 12px}
.money{font-size:32px;font-weight:bold;color:#e4393c;text-align:center;margin:12px 0}
dl{display:grid;grid-template-columns:6em 1fr;gap:6px 8px;margin:0 0 16px}
dt{color:#888}dd{margin:0;word-break:break-all}
button{width:100%;padding:12px;font-size:17px;border:0;border-radius:6px;
background:#1677ff;color:#fff}.cancel{display:block;text-align:center;margin-top:12px;color:#888}
label{display:block;padding:10px;border:1px solid #ddd;border-radius:6px;margin-bottom:8px}
.error{color:#c00}table{width:100%;border-collapse:collapse;font-size:13px}
td,th{border-bottom:1px solid #eee;padding:4px;text-align:left}.wide{max-width:960px}
"""


def _page(title: str, body: str, *, wide: bool = False) -> str:
    cls = "box wide" if wide else "box"
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f'<body><div class="{cls}">{body}</div></body></html>'
    )


def error(msg: str) -> str:
    return _page("站点提示信息", f'<h1>站点提示信息</h1><p class="error">{escape(msg)}</p>')


def cashier(trade: Trade, pay_action: str) -> str:
    """The cashier: order summary, a type chooser when needed, 确认支付 and 取消."""
    if trade.type:
        choose = f'<input type="hidden" name="type" value="{escape(trade.type)}">'
        type_row = f"<dt>支付方式</dt><dd>{escape(PAY_TYPES[trade.type])}</dd>"
    else:
        choose = "<p>请选择支付方式：</p>" + "".join(
            f'<label><input type="radio" name="type" value="{code}" required> {label}</label>'
            for code, label in PAY_TYPES.items()
        )
        type_row = ""
    safe_return = trade.return_url.startswith(("http://", "https://"))
    cancel = f'<a class="cancel" href="{escape(trade.return_url)}">取消</a>' if safe_return else ""
    body = (
        "<h1>收银台（沙箱）</h1>"
        f'<div class="money">￥{format_yuan(trade.cents)}</div>'
        f"<dl><dt>商户</dt><dd>{escape(trade.pid)}</dd>"
        f"<dt>商品名称</dt><dd>{escape(trade.name)}</dd>"
        f"<dt>商户订单号</dt><dd>{escape(trade.out_trade_no)}</dd>"
        f"<dt>平台订单号</dt><dd>{escape(trade.trade_no)}</dd>{type_row}</dl>"
        f'<form method="post" action="{escape(pay_action)}">{choose}'
        '<button type="submit">确认支付</button></form>'
        f"{cancel}"
    )
    return _page("收银台", body)


def paid(trade: Trade) -> str:
    body = (
        "<h1>支付成功</h1>"
        f'<div class="money">￥{format_yuan(trade.cents)}</div>'
        f"<dl><dt>商品名称</dt><dd>{escape(trade.name)}</dd>"
        f"<dt>平台订单号</dt><dd>{escape(trade.trade_no)}</dd></dl>"
    )
    return _page("支付成功", body)


_STATUS = {0: "未支付", 1: "已支付", 2: "已退款", 3: "已冻结"}
_NOTIFY = {0: "待通知", 1: "已通知", -1: "通知失败"}


def index(trades: list[Trade], base: str) -> str:
    rows = "".join(
        "<tr>"
        f'<td><a href="{escape(base)}sandbox/trades/{escape(t.trade_no)}">'
        f"{escape(t.trade_no)}</a></td>"
        f"<td>{escape(t.out_trade_no)}</td><td>{escape(t.pid)}</td>"
        f"<td>{escape(t.name)}</td><td>{format_yuan(t.cents)}</td>"
        f"<td>{escape(PAY_TYPES.get(t.type, '-'))}</td>"
        f"<td>{_STATUS.get(t.status, str(t.status))}</td>"
        f"<td>{_NOTIFY.get(t.notify, str(t.notify))}（{len(t.attempts)}次）</td>"
        f"<td>{escape(wall(t.addtime) or '')}</td>"
        + (f'<td><a href="{escape(t.payurl)}">去支付</a></td>' if t.status == 0 else "<td></td>")
        + "</tr>"
        for t in trades
    )
    body = (
        "<h1>彩虹易支付 沙箱</h1><p>最近的订单（最多 50 条）</p>"
        "<table><tr><th>平台订单号</th><th>商户订单号</th><th>商户</th><th>商品</th>"
        "<th>金额</th><th>方式</th><th>状态</th><th>异步通知</th><th>创建时间</th><th></th></tr>"
        f"{rows or '<tr><td colspan=10>暂无订单</td></tr>'}</table>"
    )
    return _page("易支付沙箱", body, wide=True)
