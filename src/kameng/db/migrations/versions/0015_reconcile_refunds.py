"""reconciliation findings about refunds

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = ("repaired", "not_repaired", "amount_mismatch", "missing_at_gateway")
KINDS = (
    *OLD_KINDS,
    "refund_unknown_here",
    "refund_amount_mismatch",
    "refund_unsettled_here",
    "refund_missing_at_gateway",
)
CHECK = "ck_reconciliation_findings_known_kind"


def _check(kinds: tuple[str, ...]) -> None:
    op.drop_constraint(op.f(CHECK), "reconciliation_findings", type_="check")
    op.create_check_constraint(
        op.f(CHECK), "reconciliation_findings", f"kind IN ({', '.join(repr(k) for k in kinds)})"
    )


def upgrade() -> None:
    op.alter_column(
        "reconciliation_findings", "kind", type_=sa.String(length=32), existing_nullable=False
    )
    _check(KINDS)


def downgrade() -> None:
    op.execute(
        "DELETE FROM reconciliation_findings WHERE kind NOT IN "
        f"({', '.join(repr(k) for k in OLD_KINDS)})"
    )
    _check(OLD_KINDS)
    op.alter_column(
        "reconciliation_findings", "kind", type_=sa.String(length=24), existing_nullable=False
    )
