"""What can go wrong with a payment channel, in words the operator or buyer reads."""

from __future__ import annotations

from kameng.kit.errors import DomainError, InvalidInput, NotFound
from kameng.kit.i18n import N_


class ChannelNameInvalid(InvalidInput):
    code = "channel_name_invalid"
    message = N_(
        "A channel name has 1 to 32 characters (lower-case letters, digits, _ and -): %(name)s"
    )


class ChannelKindUnknown(InvalidInput):
    code = "channel_kind_unknown"
    message = N_("Unknown channel kind %(kind)s; one of: %(kinds)s")


class ChannelExists(InvalidInput):
    code = "channel_exists"
    message = N_("A payment channel named %(name)s exists already")


class ChannelNotFound(NotFound):
    code = "channel_not_found"
    message = N_("No payment channel named %(name)s")


class ChannelSettingUnknown(InvalidInput):
    code = "channel_setting_unknown"
    message = N_("A %(kind)s channel has no setting %(key)s; its settings: %(keys)s")


class ChannelIncomplete(InvalidInput):
    code = "channel_incomplete"
    message = N_("Channel %(name)s cannot be enabled while these are empty: %(missing)s")


class ChannelUrlInsecure(InvalidInput):
    code = "channel_url_insecure"
    message = N_(
        "%(key)s must be an https URL (plain http only to this machine for a sandbox): %(url)s"
    )


class ChannelUnreadable(DomainError):
    status = 503
    code = "channel_unreadable"
    message = N_(
        "The secrets of channel %(name)s do not open with the configured keys "
        "(was KAMENG_SECRET_KEY changed? keep the old one in KAMENG_OLD_SECRET_KEYS)"
    )


# -- For buyers choosing how to pay (POST /api/shop/orders, the checkout form).


class OrderChannelUnknown(InvalidInput):
    code = "channel_unknown"
    message = N_(
        "channel: no payment channel %(channel)s can take payments; choose one of: %(choices)s"
    )


class OrderChannelRequired(InvalidInput):
    code = "channel_required"
    message = N_("channel: choose how to pay, one of: %(choices)s")


class NoChannelEnabled(DomainError):
    status = 503
    code = "no_payment_channel"
    message = N_("The shop takes no payments right now (no payment channel is enabled)")
