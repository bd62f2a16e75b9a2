"""The supply engine's configuration and the operators' alert channels, from settings."""

from __future__ import annotations

from kameng.config import Settings, split_list
from kameng.fulfilment.alerts import Alerts, EmailAlerts, LogAlerts
from kameng.fulfilment.supply.config import SupplyConfig
from kameng.fulfilment.supply.signed_http import SignedHttpAdapter
from kameng.kit.crypto import CardKeyCipher


def supply_config(settings: Settings, cipher: CardKeyCipher | None = None) -> SupplyConfig:
    return SupplyConfig(
        adapter=SignedHttpAdapter(timeout=settings.supplier_timeout_seconds),
        cipher=cipher or settings.card_key_cipher(),
        public_url=settings.public_url,
        time_scale=settings.supply_time_scale,
    )


def alerts(settings: Settings) -> Alerts:
    return Alerts(
        (
            LogAlerts(),
            EmailAlerts(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.alert_email_from,
                recipients=tuple(split_list(settings.alert_email_to)),
                user=settings.smtp_user,
                password=settings.smtp_password,
                starttls=settings.smtp_starttls,
            ),
        )
    )
