"""Jobs deferred by name have their task; jobs refuse to run without the worker's runtime."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from kameng.db.jobs import JobName, app, deps


def test_every_job_name_has_its_task() -> None:
    app.perform_import_paths()
    assert {name.value for name in JobName} <= set(app.tasks)


def test_a_job_without_the_worker_runtime_fails_loudly() -> None:
    with pytest.raises(RuntimeError, match="WorkerRuntime"):
        deps(cast(Any, SimpleNamespace(additional_context={})))
