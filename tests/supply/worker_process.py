"""A real worker process for the kill tests: ``python -m tests.supply.worker_process
DATABASE_URL PUBLIC_URL`` runs the supply jobs exactly as ``kameng worker`` does
(same runtime, same jobs), configured like the tests' settings."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from kameng.config import PROJECT_ROOT, Settings
from kameng.db.jobs import app
from kameng.fulfilment.supply.setup import supply_config
from kameng.payments.gateways.registry import GatewayRegistry
from kameng.worker.app import close_worker, open_worker


async def main(database_url: str, public_url: str, scale: float) -> None:
    settings = Settings(
        database_url=database_url,
        secret_key="test-secret-key",
        data_dir=PROJECT_ROOT / "var" / "test",
        public_url=public_url,
        supply_time_scale=scale,
        # Longer than the kill test's hanging placement; the chaos run's "timeout" too.
        supplier_timeout_seconds=float(os.environ.get("SUPPLY_TEST_TIMEOUT", "30")),
    )
    runtime = await open_worker(
        database_url, gateways=GatewayRegistry([]), size=4, supply=supply_config(settings)
    )
    ready = os.environ.get("SUPPLY_TEST_READY_FILE")
    if ready:  # the chaos run kills a worker only once it is working
        await asyncio.to_thread(Path(ready).write_text, str(os.getpid()))
    try:
        await app.run_worker_async(
            queues=["supply"],
            concurrency=int(os.environ.get("SUPPLY_TEST_CONCURRENCY", "1")),
            install_signal_handlers=True,
            fetch_job_polling_interval=0.1,
            **runtime.options(),
        )
    finally:
        await close_worker(runtime)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
