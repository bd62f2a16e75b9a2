"""The ``kameng`` command: ``run`` (the whole demo in one command) and the
pieces it is made of (``web``, ``worker``, ``sandbox``, ``migrate``, ...).

Heavy imports live inside the commands so ``kameng --help`` stays instant.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import typer

from kameng import cli_demo, cli_mail
from kameng.config import Settings, get_settings, load_settings
from kameng.db.embedded import resolve_database_url

if TYPE_CHECKING:
    from kameng.supervisor import Supervisor

app = typer.Typer(
    name="kameng",
    help="kameng 卡盟 shop. `kameng run` starts the whole demo (shop, worker, payment sandbox).",
    no_args_is_help=True,
    add_completion=False,
)


def _add_commands() -> None:
    from kameng import cli_review, cli_supply, cli_support
    from kameng.payments.channels import cli as cli_channels

    for module in (cli_supply, cli_channels, cli_review, cli_support, cli_mail):
        module.register(app)


_add_commands()

WORKER_CONCURRENCY = 4
# Generous: on a loaded 2-core machine each web process needs 10-20 s to import
# the app; a child that dies still ends the wait at once.
READY_TIMEOUT = 120.0

Host = Annotated[str, typer.Option(help="Interface to listen on.")]


def database(settings: Settings) -> tuple[str, Any | None]:
    """DATABASE_URL when set, else the embedded PostgreSQL under ``data_dir/pg``.

    Returns the URL and the embedded server's handle (None for DATABASE_URL);
    keep the handle referenced for as long as the database is needed.
    """
    return resolve_database_url(settings.database_url, settings.data_dir)


def _echo(message: str) -> None:
    typer.echo(f"[kameng] {message}", err=True)


@app.command()
def run(
    port: Annotated[int, typer.Option(help="Port of the shop.")] = 8000,
    sandbox_port: Annotated[int, typer.Option(help="Port of the 易支付 sandbox.")] = 8001,
    host: Host = "127.0.0.1",
    wechatpay_port: Annotated[int, typer.Option(help="Port of the WeChat Pay sandbox.")] = 8002,
    alipay_port: Annotated[int, typer.Option(help="Port of the Alipay sandbox.")] = 8003,
    epay_v2_port: Annotated[int, typer.Option(help="Port of the 易支付 V2 sandbox.")] = 8004,
    supplier_port: Annotated[int, typer.Option(help="Port of the supplier sandbox.")] = 8005,
    mail_port: Annotated[int, typer.Option(help="Port of the mail sink's page.")] = 8006,
    smtp_port: Annotated[int, typer.Option(help="Port of the mail sink's SMTP.")] = 8025,
) -> None:
    """Start the whole demo: database, shop, worker and 易支付 sandbox.

    PostgreSQL is embedded (data in var/pg) unless DATABASE_URL is set. Migrations
    are applied and demo data is loaded into a shop without products. Runs in demo
    mode: a random secret and sandbox merchant key are generated on first start
    and kept in var/demo-secrets.json. Ctrl-C stops all of it.
    """
    from kameng.supervisor import interrupt_on_termination, port_free, release_embedded

    interrupt_on_termination()
    settings = load_settings(demo=True)
    ports = [port, sandbox_port, wechatpay_port, alipay_port, epay_v2_port, supplier_port]
    ports += [mail_port, smtp_port]
    busy = [p for p in ports if not port_free(host, p)]
    if busy:
        _echo(f"port {', '.join(map(str, busy))} on {host} is already in use")
        _echo("stop whatever uses it, or pick others with --port / --sandbox-port")
        raise typer.Exit(1)
    if settings.database_url:
        _echo(f"using DATABASE_URL ({_redact(settings.database_url)})")
    else:
        _echo(f"starting embedded PostgreSQL (data in {settings.data_dir / 'pg'})")
    url, server = database(settings)
    try:
        code = _run_with_database(
            url,
            settings,
            host,
            port,
            sandbox_port,
            wechatpay_port,
            (alipay_port, epay_v2_port),
            supplier_port,
            (mail_port, smtp_port),
        )
    finally:
        if server is not None:
            _echo("stopping embedded PostgreSQL")
            others = release_embedded(server)
            if others:
                pids = ", ".join(map(str, others))
                _echo(f"PostgreSQL is still used by pid {pids}; it stops when they exit")
            else:
                _echo("PostgreSQL stopped")
    raise typer.Exit(code)


def _run_with_database(
    url: str,
    settings: Settings,
    host: str,
    port: int,
    sandbox_port: int,
    wechatpay_port: int,
    issue9_ports: tuple[int, int],
    supplier_port: int,
    mail_ports: tuple[int, int],
) -> int:
    from kameng.db.migrate import upgrade
    from kameng.demo import load_demo
    from kameng.supervisor import Supervisor, describe_exit

    _echo("applying migrations")
    upgrade(url)
    if asyncio.run(load_demo(url, settings)):
        _echo("loaded demo products and card keys")
    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    from kameng.cli_supply import load_demo_suppliers

    supplier = f"http://{local}:{supplier_port}/"
    if load_demo_suppliers(url, settings, supplier):
        _echo("loaded demo suppliers SUP-A, SUP-B and the supply demo products")
    shop = f"http://{local}:{port}"
    sandbox = f"http://{local}:{sandbox_port}/"
    wechatpay = f"http://{local}:{wechatpay_port}"
    alipay = f"http://{local}:{issue9_ports[0]}/"
    epay_v2 = f"http://{local}:{issue9_ports[1]}/"
    gateways = cli_demo.gateway_env(settings, sandbox, wechatpay, alipay, epay_v2, _echo)
    renewed = asyncio.run(cli_demo.resync_channels(url, gateways))
    if renewed:
        _echo(f"demo channels given the sandboxes' current keys: {', '.join(renewed)}")
    env = {
        **os.environ,
        # Children use this very server (no second embedded instance, no handle).
        "DATABASE_URL": url,
        "KAMENG_PUBLIC_URL": shop,
        # Children read the same demo secrets (var/demo-secrets.json) as we do.
        "KAMENG_DEMO": "1",
        "PYTHONUNBUFFERED": "1",
        **gateways,
    }
    supervisor = Supervisor(env=env, echo=_echo)
    supervisor.install_signal_handlers()
    try:
        serve = ["--host", host]
        mail = cli_mail.start_mail_sink(supervisor, settings, serve, local, mail_ports)
        supervisor.start("web", ["-m", "kameng", "web", *serve, "--port", str(port)], shop + "/")
        supervisor.start("worker", ["-m", "kameng", "worker"])
        supervisor.start(
            "sandbox", ["-m", "kameng", "sandbox", *serve, "--port", str(sandbox_port)], sandbox
        )
        supervisor.start(
            "wechatpay-sandbox",
            ["-m", "kameng", "wechatpay-sandbox", *serve, "--port", str(wechatpay_port)],
            wechatpay + "/",
        )
        supervisor.start(
            "alipay-sandbox",
            ["-m", "kameng", "alipay-sandbox", *serve, "--port", str(issue9_ports[0])],
            alipay,
        )
        supervisor.start(
            "epay-v2-sandbox",
            ["-m", "kameng", "epay-v2-sandbox", *serve, "--port", str(issue9_ports[1])],
            epay_v2,
        )
        supervisor.start(
            "supplier-sandbox",
            ["-m", "kameng", "supplier-sandbox", *serve, "--port", str(supplier_port)],
            supplier,
        )
        problem = supervisor.wait_ready(READY_TIMEOUT)
        if problem is not None:
            _echo(problem)
            return 0 if supervisor.stopping else 1
        _banner(settings, shop, sandbox, url, wechatpay, (alipay, epay_v2))
        _echo(f"  供应商沙箱 Supplier  {supplier}  (orders received: {supplier}sandbox/orders)")
        _echo(cli_mail.banner_line(settings, mail, local, mail_ports[1]))
        dead = supervisor.wait()
        if dead is None:
            _echo("stopping (signal received)")
            return 0
        _echo(f"{dead.name} {describe_exit(dead.process.returncode)}; stopping everything")
        return 1
    finally:
        _stop_children(supervisor)


def _stop_children(supervisor: Supervisor) -> None:
    from kameng.supervisor import describe_exit

    supervisor.stop_all(grace=10.0)
    for child in supervisor.children:
        code = child.process.returncode
        # uvicorn re-raises the SIGTERM we sent once it has shut down cleanly.
        outcome = "stopped" if code in (0, -signal.SIGTERM) else describe_exit(code)
        _echo(f"{child.name} (pid {child.pid}) {outcome}")


def _banner(
    settings: Settings, shop: str, sandbox: str, url: str, wechatpay: str, issue9: tuple[str, str]
) -> None:
    from kameng.demo_secrets import demo_secrets_path

    data = (
        f"{settings.data_dir / 'pg'} (embedded PostgreSQL, kept between runs; "
        "delete it to start over)"
        if not settings.database_url
        else f"{_redact(url)} (DATABASE_URL)"
    )
    lines = [
        "",
        typer.style("kameng is running / 卡盟已启动", bold=True),
        f"  商店 Shop            {shop}/",
        f"  订单查询 Lookup      {shop}/query",
        f"  API 文档 API docs    {shop}/docs",
        f"  易支付沙箱 Sandbox   {sandbox}",
        f"  支付宝沙箱 Alipay    {issue9[0]}  (keys: {settings.data_dir / 'sandbox' / 'alipay'})",
        f"  易支付V2沙箱 Epay V2 {issue9[1]}  (keys: {settings.data_dir / 'sandbox' / 'epay_v2'})",
        f"  商户号 Merchant pid  {settings.epay_pid}",
        f"  商户密钥 Key         {settings.epay_key}",
        f"  微信支付沙箱 WeChat  {wechatpay}/  (keys: {cli_demo.wechatpay_dir(settings)})",
        f"  密钥文件 Secrets     {demo_secrets_path(settings.data_dir)} (generated, mode 0600)",
        f"  数据 Data            {data}",
        "",
        typer.style("Ctrl-C to stop / 按 Ctrl-C 停止", bold=True),
        "",
    ]
    typer.echo("\n".join(lines))


def _configure_logging() -> None:
    from kameng.kit.logs import configure_logging

    configure_logging(os.environ.get("KAMENG_LOG_LEVEL", "INFO").upper())


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    return url


@app.command()
def web(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Web processes (default: one per core)."),
    ] = None,
) -> None:
    """Serve the shop (web pages and the buyer API) with uvicorn, in --workers processes.

    KAMENG_DB_POOL_SIZE is the connection budget of all of them together: each
    process opens its share (at least 2).
    """
    import uvicorn

    from kameng.web.app import create_app

    settings = _safe_settings("web")  # before logging: a refusal is plain text
    _configure_logging()
    url, _server = database(settings)
    processes = workers or os.cpu_count() or 1
    share = pool_share(settings.db_pool_size, processes)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        # Don't wait forever on keep-alive connections of buyers' pages.
        "timeout_graceful_shutdown": 5,
        "log_config": None,  # our pipeline (kameng.kit.logs), already configured
        "access_log": False,  # one "request" event per request replaces it
    }
    if processes == 1:
        shop_settings = settings.model_copy(update={"database_url": url, "db_pool_size": share})
        uvicorn.run(lambda: create_app(shop_settings), factory=True, **options)
        return
    # Each worker process builds the app from the environment (production_app).
    os.environ["DATABASE_URL"] = url
    os.environ["KAMENG_DB_POOL_SIZE"] = str(share)  # per process, from here on
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(
            _fresh_dir(settings.data_dir / "metrics" / f"web-{port}")
        )
    _echo(f"{processes} web processes, {share} database connections each")
    uvicorn.run("kameng.web.app:production_app", factory=True, workers=processes, **options)


def pool_share(budget: int, processes: int) -> int:
    """Connections per web process so that all of them stay within ``budget``
    (never below 2: one request may wait while another holds a connection)."""
    return max(2, budget // processes)


def _fresh_dir(path: Path) -> Path:
    """An empty directory (prometheus-client's multiprocess files of an earlier
    run would add dead processes' counts to the sums)."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _safe_settings(command: str, *, keys_only: bool = False) -> Settings:
    """The settings, or exit 2 saying what to set (outside demo mode)."""
    from kameng.config_check import key_problems, refusal
    from kameng.payments.channels.env_import import problems_with_channels

    settings = get_settings()
    found = key_problems(settings) if keys_only else problems_with_channels(settings, database)
    if found:
        typer.echo(refusal(found, command), err=True)
        raise typer.Exit(2)
    return settings


@app.command()
def check() -> None:
    """List every configuration problem at once, starting nothing (exit 1 if any)."""
    from kameng.payments.channels.env_import import problems_with_channels

    settings = get_settings()
    found = problems_with_channels(settings, database)
    if settings.demo:
        typer.echo("demo mode (KAMENG_DEMO=1): generated secrets and the sandbox are allowed")
    for problem in found:
        typer.echo(f"✗ {problem}")
    if found:
        typer.echo(f"{len(found)} configuration problem(s); kameng web and worker refuse to start")
        raise typer.Exit(1)
    typer.echo("configuration OK")


@app.command()
def worker() -> None:
    """Run the job worker (payments, fulfilment, expiry) on every queue."""
    settings = _safe_settings("worker")  # before logging: a refusal is plain text
    _configure_logging()
    url, _server = database(settings)
    asyncio.run(_work(url, settings))


async def _work(url: str, settings: Settings) -> None:
    from kameng.db.jobs import app as jobs

    # Per concurrent job: its own transaction plus procrastinate's bookkeeping;
    # plus the LISTEN/NOTIFY connection.
    from kameng.fulfilment.supply.setup import alerts, supply_config
    from kameng.payments.channels.live import from_database
    from kameng.worker.app import close_worker, follow_channels, open_worker

    gateways = from_database(settings)
    runtime = await open_worker(
        url,
        gateways=gateways,
        size=2 * WORKER_CONCURRENCY + 1,
        notify_log_retention_days=settings.notify_log_retention_days,
        supply=supply_config(settings),
        alerts=alerts(settings),
        receipts=cli_mail.receipt_config(settings),
    )
    try:
        await gateways.refresh_from(runtime.pool, max_age=0)
        async with follow_channels(gateways, runtime.pool):  # by LISTEN/NOTIFY
            await jobs.run_worker_async(
                concurrency=WORKER_CONCURRENCY, install_signal_handlers=True, **runtime.options()
            )
    finally:
        await close_worker(runtime)


@app.command()
def sandbox(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
) -> None:
    """Serve the 易支付 V1 sandbox gateway (merchant = KAMENG_EPAY_PID / KAMENG_EPAY_KEY).

    Always a demo: without KAMENG_EPAY_KEY the merchant key is the generated one
    in var/demo-secrets.json, the same that `kameng run` gives the shop.
    """
    import uvicorn

    from kameng.sandbox.epay import create_app
    from kameng.sandbox.persist import JsonFile

    settings = load_settings(demo=True)
    assert settings.epay_pid and settings.epay_key  # demo mode fills both
    merchants = {settings.epay_pid: settings.epay_key}
    scale = settings.sandbox_time_scale
    trades = settings.data_dir / "sandbox" / "epay" / "trades.json"
    _echo(f"epay sandbox: trades kept in {trades}")
    uvicorn.run(
        lambda: create_app(merchants=merchants, time_scale=scale, state_file=JsonFile(trades)),
        factory=True,
        host=host,
        port=port,
    )


@app.command("wechatpay-sandbox")
def wechatpay_sandbox(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8002,
) -> None:
    """Serve the WeChat Pay v3 sandbox (keys and trades under var/sandbox/wechatpay)."""
    import uvicorn

    from kameng.sandbox.wechatpay import demo
    from kameng.sandbox.wechatpay.app import create_app

    settings = get_settings()
    identity, created = demo.identity(settings.data_dir)
    verb = "generated" if created else "using"
    _echo(f"WeChat Pay sandbox: {verb} keys and trades in {identity.directory}")
    _echo(f"  mchid {identity.mchid}, appid {identity.appid}, key id {identity.public_key_id}")
    scale = settings.sandbox_time_scale
    uvicorn.run(
        lambda: create_app(data_dir=identity.directory, time_scale=scale),
        factory=True,
        host=host,
        port=port,
    )


@app.command("alipay-sandbox")
def alipay_sandbox(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8003,
) -> None:
    """Serve the Alipay sandbox (keys made on first start under var/sandbox/alipay)."""
    import uvicorn

    from kameng.sandbox.demo import alipay_app

    sandbox_app, lines = alipay_app(get_settings())
    for line in lines:
        _echo(f"alipay sandbox: {line}")
    uvicorn.run(sandbox_app, host=host, port=port)


@app.command("epay-v2-sandbox")
def epay_v2_sandbox(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8004,
) -> None:
    """Serve the 易支付 V2 (RSA) sandbox (keys made on first start under var/sandbox/epay_v2)."""
    import uvicorn

    from kameng.sandbox.demo import epay_v2_app

    sandbox_app, lines = epay_v2_app(get_settings())
    for line in lines:
        _echo(f"epay V2 sandbox: {line}")
    uvicorn.run(sandbox_app, host=host, port=port)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (a no-op when it already is)."""
    from kameng.db.migrate import upgrade

    url, _server = database(get_settings())
    upgrade(url)
    _echo("database schema is up to date")


@app.command("demo-data")
def demo_data() -> None:
    """Apply migrations, then load the demo products and keys into a shop without products."""
    from kameng.db.migrate import upgrade
    from kameng.demo import load_demo

    settings = _safe_settings("demo-data", keys_only=True)
    url, _server = database(settings)
    upgrade(url)
    if asyncio.run(load_demo(url, settings)):
        _echo("loaded demo products DEMO-CARD-10 (100 keys), DEMO-CARD-50 (20), DEMO-EMPTY (0)")
    else:
        _echo("the shop already has products; demo data not loaded")


@app.command("import-cards")
def import_cards(
    product: Annotated[str, typer.Option("--product", help="SKU of the product.")],
    file: Annotated[
        Path, typer.Argument(help="Text file, one `number password` per line (UTF-8).")
    ],
) -> None:
    """Import card keys from a file into a product's stock (all or nothing)."""
    from kameng.cardkeys.cli import import_cards_command

    settings = _safe_settings("import-cards", keys_only=True)
    raise typer.Exit(import_cards_command(product, file, settings.database_url, settings=settings))


@app.command()
def refund(
    order: Annotated[str, typer.Argument(help="Order number (16 digits).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the refund).")],
    amount: Annotated[
        str | None, typer.Option("--amount", help="Yuan, e.g. 12.50; default: all refundable.")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key (default: from the arguments).")
    ] = None,
) -> None:
    """Refund an order (all, or --amount); the worker sends it to the gateway."""
    from kameng.payments.refunds.cli import refund_command

    settings = _safe_settings("refund", keys_only=True)
    raise typer.Exit(
        refund_command(order, amount=amount, reason=reason, key=key, settings=settings)
    )


@app.command()
def reconcile(
    channel: Annotated[str, typer.Option("--channel", help="Gateway name, e.g. epay.")],
    day: Annotated[str, typer.Option("--date", help="The bill's day, YYYY-MM-DD (China time).")],
) -> None:
    """对账: compare a gateway's bill for one day with our payments; show the findings."""
    from kameng.payments.reconcile.cli import reconcile_command

    raise typer.Exit(reconcile_command(channel, day, _safe_settings("reconcile")))


@app.command("rekey-cards")
def rekey_cards(
    batch: Annotated[int, typer.Option(min=1, help="Card keys per transaction.")] = 1000,
) -> None:
    """Re-encrypt every card key under the current key (after a change of secret).

    Keep the old secret in KAMENG_OLD_SECRET_KEYS (or the old key in
    KAMENG_OLD_CARD_KEY_ENCRYPTION_KEYS) until this reports 0 remaining.
    Batches commit one by one; run it again to resume.
    """
    from kameng.cardkeys.rekey_cli import rekey_cards_command

    raise typer.Exit(
        rekey_cards_command(_safe_settings("rekey-cards", keys_only=True), batch=batch)
    )
