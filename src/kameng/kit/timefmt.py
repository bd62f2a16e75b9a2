"""Times as buyers read them: in the shop's time zone (北京时间 by default)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"


@lru_cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(moment: datetime, zone_name: str = DEFAULT_ZONE, *, seconds: bool = False) -> str:
    """'2026-11-25 20:00' in the shop's zone; the UTC offset is implied by the zone."""
    return moment.astimezone(zone(zone_name)).strftime(
        "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    )
