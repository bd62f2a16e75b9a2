"""Domain errors carry an HTTP-ish status and a message in each buyer language.

Domains raise these; the web layer renders them as JSON or HTML in the
language the buyer asked for. Nothing here knows about HTTP frameworks.
"""

from __future__ import annotations

from typing import Any, ClassVar

MESSAGES: dict[str, dict[str, str]] = {
    "product_not_found": {
        "zh": "商品不存在或已下架：{sku}",
        "en": "No such product, or it is no longer on sale: {sku}",
    },
    "quantity_invalid": {
        "zh": "购买数量须在 1 到 {max} 之间",
        "en": "Quantity must be between 1 and {max}",
    },
    "gateway_unknown": {
        "zh": "不支持的支付方式：{gateway}",
        "en": "Unsupported payment method: {gateway}",
    },
    "order_not_found": {
        "zh": "没有找到订单 {order_no}。请核对订单号（16 位数字）。",
        "en": "No order {order_no}. Please check the order number (16 digits).",
    },
    "order_number_invalid": {
        "zh": "“{value}” 不是有效的订单号：订单号是 16 位数字，最后一位是校验位。",
        "en": "“{value}” is not a valid order number: order numbers have 16 digits, the last "
        "being a check digit.",
    },
    "wrong_password": {
        "zh": "查询密码不正确",
        "en": "The query password is wrong",
    },
    "not_authorised": {
        "zh": "请提供查询密码，或在下单的浏览器中查看卡密",
        "en": "Give the query password, or open the order in the browser that placed it",
    },
    "invalid_input": {
        "zh": "输入有误：{detail}",
        "en": "Invalid input: {detail}",
    },
    "too_many_attempts": {
        "zh": "查询密码错误次数过多，请 {minutes} 分钟后再试，或在下单的浏览器中查看",
        "en": "Too many wrong query passwords; try again in {minutes} minutes, or open the "
        "order in the browser that placed it",
    },
    "illegal_transition": {
        "zh": "订单状态已变化，请刷新后重试",
        "en": "The order changed meanwhile; reload and try again",
    },
    "not_found": {"zh": "页面不存在", "en": "Page not found"},
    "method_not_allowed": {"zh": "不支持的请求方法", "en": "Method not allowed"},
    "internal": {
        "zh": "服务器暂时出错，您的订单和付款不会丢失，请稍后刷新",
        "en": "Temporary server error; your order and payment are safe, please retry shortly",
    },
}


def render(code: str, lang: str, params: dict[str, Any]) -> str:
    entry = MESSAGES.get(code) or MESSAGES["internal"]
    template = entry.get(lang) or entry["zh"]
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


class KamengError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "invalid_input"

    def __init__(self, **params: Any) -> None:
        super().__init__(f"{self.code}: {params}")
        self.params = params

    def message(self, lang: str = "zh") -> str:
        return render(self.code, lang, self.params)


class NotFound(KamengError):
    status = 404
    code = "not_found"


class ProductNotFound(NotFound):
    code = "product_not_found"


class OrderNotFound(NotFound):
    code = "order_not_found"


class InvalidInput(KamengError):
    status = 422
    code = "invalid_input"


class QuantityInvalid(InvalidInput):
    code = "quantity_invalid"


class GatewayUnknown(InvalidInput):
    code = "gateway_unknown"


class OrderNumberInvalid(InvalidInput):
    code = "order_number_invalid"


class WrongPassword(KamengError):
    status = 403
    code = "wrong_password"


class TooManyAttempts(KamengError):
    status = 429
    code = "too_many_attempts"


class IllegalTransition(KamengError):
    status = 409
    code = "illegal_transition"
