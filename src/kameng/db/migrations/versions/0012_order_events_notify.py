"""order_events: NOTIFY order_events with the order id on every insert

The notification is sent when the inserting transaction commits, so a listener
hears of an event exactly when it becomes visible (live timelines, SSE).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 22:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION order_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('order_events', NEW.order_id::text);
            RETURN NULL;
        END $$;
        CREATE TRIGGER order_events_notify AFTER INSERT ON order_events
            FOR EACH ROW EXECUTE FUNCTION order_events_notify();
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER order_events_notify ON order_events; DROP FUNCTION order_events_notify();"
    )
