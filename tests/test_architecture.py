"""Rules that keep the code right, checked on its syntax tree (comments and
docstrings cannot trip or hide a rule; code split over lines cannot escape it).

Each rule is a function from a module's source to its violations, and each has
a self-test showing it catches a violation in a sample and ignores prose.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "kameng"
PY = sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)

Rule = Callable[[str, str], list[str]]  # (source, path relative to src/kameng) -> violations


def _parse(source: str) -> ast.Module:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            child.parent = node  # type: ignore[attr-defined]
    return tree


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the docstring nodes (module, class, function): prose, not code."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _sql_strings(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Every string literal that is code (docstrings skipped); an f-string is its
    literal parts with ``{}`` for each placeholder."""
    prose = _docstrings(tree)
    inside_fstring = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                inside_fstring.add(id(value))
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    parts.append(value.value)
                else:
                    parts.append("{}")
            yield node.lineno, "".join(parts)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in prose
            and id(node) not in inside_fstring
        ):
            yield node.lineno, node.value


# -- services never commit ------------------------------------------------------------


def services_never_commit(source: str, path: str) -> list[str]:
    """A service takes the caller's connection and never ends its transaction."""
    if not path.endswith("service.py"):
        return []
    return [
        f"{path}:{node.lineno} calls .{node.func.attr}()"
        for node in ast.walk(_parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("commit", "rollback")
    ]


# -- row locks only in repositories ---------------------------------------------------

_LOCK = re.compile(r"\bFOR\s+(NO\s+KEY\s+)?(UPDATE|SHARE)\b|\bSKIP\s+LOCKED\b", re.IGNORECASE)


def _is_repository(path: str) -> bool:
    return Path(path).name.endswith("repository.py")


def locks_only_in_repositories(source: str, path: str) -> list[str]:
    """``FOR UPDATE`` / ``SKIP LOCKED`` (and the ORM's with_for_update) live in repositories."""
    if _is_repository(path):
        return []
    tree = _parse(source)
    found = [
        f"{path}:{line} locks rows in SQL" for line, s in _sql_strings(tree) if _LOCK.search(s)
    ]
    found += [
        f"{path}:{node.lineno} calls with_for_update()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "with_for_update"
    ]
    return found


# -- orders.status only through transition() -----------------------------------------

_UPDATE_ORDERS = re.compile(
    r"\bUPDATE\s+orders\b(?:\s+(?:AS\s+)?\w+)?\s+SET\b(?P<sets>.*?)(?:\bWHERE\b|\bRETURNING\b|$)",
    re.IGNORECASE | re.DOTALL,
)
_SETS_STATUS = re.compile(r"(^|[\s,.])status\s*=", re.IGNORECASE)


def status_only_through_transition(source: str, path: str) -> list[str]:
    """No SQL outside a states.py sets ``orders.status``; neither does the ORM."""
    if Path(path).name == "states.py":
        return []
    tree = _parse(source)
    found = [
        f"{path}:{line} sets orders.status in SQL"
        for line, s in _sql_strings(tree)
        for m in _UPDATE_ORDERS.finditer(s)
        if _SETS_STATUS.search(m.group("sets"))
    ]
    found += [
        f"{path}:{node.lineno} sets status through the ORM"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "values"
        and any(k.arg == "status" for k in node.keywords)
    ]
    return found


# -- no float money ---------------------------------------------------------------------

_MONEY = re.compile(r"amount|price|money|cents|yuan|fee|refund|balance|cost", re.IGNORECASE)


def _names(node: ast.AST) -> Iterator[str]:
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            yield n.id
        elif isinstance(n, ast.Attribute):
            yield n.attr
        elif isinstance(n, ast.keyword) and n.arg:
            yield n.arg
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and len(n.value) < 40:
            yield n.value  # dict keys such as {"amount_cents": ...}


def _mentions_money(node: ast.AST) -> bool:
    return any(_MONEY.search(name) for name in _names(node))


_SIMPLE = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Return, ast.Expr, ast.Assert)


def _context(node: ast.AST) -> ast.AST:
    """The expression a value takes part in: its simple statement, or the part of a
    compound statement (an ``if`` test, a ``for`` iterable) that holds it."""
    child = node
    parent = getattr(node, "parent", None)
    while parent is not None and not isinstance(parent, ast.stmt):
        child, parent = parent, getattr(parent, "parent", None)
    if parent is None or isinstance(parent, _SIMPLE):
        return parent or child
    return child


def _is_float(annotation: ast.AST | None) -> bool:
    return annotation is not None and any(
        isinstance(n, ast.Name) and n.id == "float" for n in ast.walk(annotation)
    )


def _typed_float_money(node: ast.AST) -> bool:
    """``amount: float``, ``def f(price: float)``, ``def to_yuan() -> float``."""
    if isinstance(node, ast.AnnAssign):
        return _is_float(node.annotation) and _mentions_money(node.target)
    if isinstance(node, ast.arg):
        return _is_float(node.annotation) and bool(_MONEY.search(node.arg))
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return _is_float(node.returns) and bool(_MONEY.search(node.name))
    return False


def money_is_never_float(source: str, path: str) -> list[str]:
    """Money is integer cents or Decimal: no ``float(…)``, float literal or true
    division (``/``) in an expression about money, no money name typed ``float``."""
    found = []
    for node in ast.walk(_parse(source)):
        what = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            what = "float()" if node.func.id == "float" else None
        elif isinstance(node, ast.Constant) and type(node.value) is float:
            what = "a float literal"
        elif isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(node.op, ast.Div):
            what = "true division"
        if what and _mentions_money(_context(node)):
            found.append(f"{path}:{node.lineno} {what} on money")
        if _typed_float_money(node):
            found.append(f"{path}:{node.lineno} money typed float")
    return found


# -- the rules on the code --------------------------------------------------------------

RULES: list[Rule] = [
    services_never_commit,
    locks_only_in_repositories,
    status_only_through_transition,
    money_is_never_float,
]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
def test_rule_holds_in_the_code(rule: Rule) -> None:
    offenders = [v for p in PY for v in rule(p.read_text(), str(p.relative_to(SRC)))]
    assert offenders == []


def test_modules_stay_small() -> None:
    big = {str(p.relative_to(SRC)): n for p in PY if (n := len(p.read_text().splitlines())) > 600}
    assert big == {}


# -- each rule catches a violation and is not fooled by prose ----------------------------

CAUGHT: list[tuple[Rule, str, str]] = [
    (services_never_commit, "orders/service.py", "async def f(conn):\n    await conn.commit()\n"),
    (services_never_commit, "payments/service.py", "def f(s):\n    s.rollback()\n"),
    (
        locks_only_in_repositories,
        "orders/service.py",
        'SQL = "SELECT id FROM orders " + " FOR UPDATE"\n',
    ),
    (
        locks_only_in_repositories,
        "fulfilment/tasks.py",
        'SQL = f"SELECT id FROM {t} LIMIT 1 for update skip locked"\n',
    ),
    (locks_only_in_repositories, "web/shared.py", "q = select(Order).with_for_update()\n"),
    (
        status_only_through_transition,
        "orders/repository.py",
        "SQL = (\n    'UPDATE orders o SET updated_at = now(), '\n"
        "    \"status = 'paid' WHERE id = 1\"\n)\n",
    ),
    (
        status_only_through_transition,
        "payments/repository.py",
        "q = update(Order).where(Order.id == 1).values(status='paid')\n",
    ),
    (money_is_never_float, "orders/service.py", "amount = float(text)\n"),
    (money_is_never_float, "payments/service.py", "shown = order.amount_cents / 100\n"),
    (money_is_never_float, "web/shared.py", "if price_cents > 9.99:\n    pass\n"),
    (money_is_never_float, "kit/money.py", "def to_yuan(cents: float) -> str: ...\n"),
    (money_is_never_float, "catalog/repository.py", "class P:\n    price: float\n"),
    (money_is_never_float, "orders/schemas.py", "d = {'amount_cents': float(x)}\n"),
]


@pytest.mark.parametrize(
    ("rule", "path", "sample"), CAUGHT, ids=lambda v: getattr(v, "__name__", "")
)
def test_rule_catches_a_violation(rule: Rule, path: str, sample: str) -> None:
    assert len(rule(sample, path)) == 1


NOT_CAUGHT: list[tuple[Rule, str, str]] = [
    # Prose about a rule is not a violation of it.
    (
        locks_only_in_repositories,
        "orders/tasks.py",
        '"""Batches under FOR UPDATE SKIP LOCKED."""\n# SELECT … FOR UPDATE\nx = 1\n',
    ),
    (
        status_only_through_transition,
        "orders/service.py",
        'def f():\n    """Runs UPDATE orders SET status = x via transition()."""\n',
    ),
    (services_never_commit, "orders/service.py", "# never conn.commit() here\nx = 1\n"),
    # Where the rule allows it.
    (locks_only_in_repositories, "cardkeys/repository.py", 'S = "SELECT 1 FOR UPDATE"\n'),
    (status_only_through_transition, "orders/states.py", "S = 'UPDATE orders SET status = 1'\n"),
    (services_never_commit, "orders/tasks.py", "async def f(c):\n    await c.commit()\n"),
    # Other tables' status, other orders columns, and floats that are not money.
    (
        status_only_through_transition,
        "cardkeys/repository.py",
        "S = \"UPDATE card_keys SET status = 'sold'\"\nT = 'UPDATE orders SET updated_at = 1'\n",
    ),
    (money_is_never_float, "kit/i18n.py", "quality = float(params[2:])\n"),
    (money_is_never_float, "cli.py", "READY_TIMEOUT = 30.0\nrate = done / elapsed\n"),
    (money_is_never_float, "kit/money.py", "cents = int(value * 100)\n"),
]


@pytest.mark.parametrize(
    ("rule", "path", "sample"), NOT_CAUGHT, ids=lambda v: getattr(v, "__name__", "")
)
def test_rule_is_not_fooled(rule: Rule, path: str, sample: str) -> None:
    assert rule(sample, path) == []
