"""``/o/{order_no}/pay``: for gateways whose order must be created server-side
first (WeChat Pay Native/H5), or whose pay link must be signed at click time
(epay V2's timestamp is good for 5 minutes). The HTTP call to the gateway
happens here, outside any database transaction; then the buyer is sent to the
H5 page or shown the Native QR code."""

from __future__ import annotations

import segno
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from kameng.db.connection import transaction
from kameng.kit.i18n import N_
from kameng.orders import repository as orders_repo
from kameng.orders.states import OrderStatus
from kameng.payments.active_query.service import Visit
from kameng.payments.gateways.base import GatewayUnavailable
from kameng.payments.gateways.wechatpay_v3 import WechatPayV3Gateway
from kameng.web import shared
from kameng.web.deps import runtime, translator_for
from kameng.web.templating import templates

router = APIRouter(include_in_schema=False)

_MOBILE = ("mobile", "android", "iphone", "ipad")
# WeChat refuses H5 pay inside its own browser; there a long press on the
# Native QR code pays (JSAPI, which needs the buyer's openid, is not done).
_WECHAT_BROWSER = "micromessenger"
_UNAVAILABLE = N_(
    "WeChat Pay cannot be reached right now; please try again shortly. "
    "Your order is kept and nothing was charged."
)


@router.get("/o/{order_no}/return")
async def returned_from_gateway(request: Request, order_no: str) -> Response:
    """The gateway's return URL: whatever it appended (signed or not) is not
    trusted; the order's active query is pulled forward to now instead, and the
    buyer lands on the order page, which shows the payment once it is confirmed."""
    rt = runtime(request)
    number = shared.checked_number(order_no)
    async with transaction(rt.pool) as conn:
        order = await orders_repo.get_by_number(conn, number)
        if order is not None:
            await shared.buyer_visited(conn, order, Visit.GATEWAY_RETURN)
    return RedirectResponse(f"/o/{number}", status_code=303)


@router.get("/o/{order_no}/pay")
async def start_payment(request: Request, order_no: str) -> Response:
    rt = runtime(request)
    number = shared.checked_number(order_no)
    async with transaction(rt.pool) as conn:
        order = await orders_repo.get_by_number(conn, number)
        await rt.gateways.refresh(conn)
        if order is not None:
            await shared.buyer_visited(conn, order, Visit.PAY_PAGE)
    order_page = RedirectResponse(f"/o/{number}", status_code=303)
    if order is None or order.status != OrderStatus.UNPAID.value:
        return order_page  # the order page explains why there is nothing to pay
    gateway = rt.gateways.get(order.gateway)
    fresh_pay_url = getattr(gateway, "fresh_pay_url", None)
    if gateway is not None and callable(fresh_pay_url):
        # Links signed with a timestamp (epay V2) go stale: sign one now.
        link = fresh_pay_url(shared.pay_request(rt, order, gateway.name))
        return RedirectResponse(str(link), status_code=303)
    if not isinstance(gateway, WechatPayV3Gateway):
        return order_page
    agent = request.headers.get("user-agent", "").lower()
    try:
        start = await gateway.start_payment(
            shared.pay_request(rt, order, gateway.name),
            mobile=_WECHAT_BROWSER not in agent and any(word in agent for word in _MOBILE),
            client_ip=request.client.host if request.client else "127.0.0.1",
        )
    except GatewayUnavailable:
        failed = {"message": translator_for(request)(_UNAVAILABLE)}
        return templates.TemplateResponse(request, "error.html", failed, status_code=503)
    if start.kind == "paid":  # paid at WeChat, our notify still on its way
        return RedirectResponse(f"/o/{number}/return", status_code=303)
    if start.kind == "redirect":
        return RedirectResponse(start.url, status_code=303)
    context: dict[str, object] = {
        "order_no": number,
        "amount": f"{order.amount_cents // 100}.{order.amount_cents % 100:02d}",
        "qr_svg": segno.make(start.url, error="m").svg_inline(scale=6),
        "code_url": start.url,
        "scan_url": gateway.sandbox_scan_url(start.url),
    }
    return templates.TemplateResponse(request, "wechat_native.html", context)
