"""``kameng mail-sandbox`` and how ``kameng run`` points the shop at it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from kameng.config import Settings

if TYPE_CHECKING:
    from kameng.receipts.tasks import ReceiptConfig
    from kameng.supervisor import Supervisor

DEMO_SENDER = "shop@kameng.localhost"


def register(app: typer.Typer) -> None:
    """Add these commands to the ``kameng`` command."""
    app.command("mail-sandbox")(mail_sandbox_command)


def mail_sandbox_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the page listing the mails.")] = 8006,
    smtp_port: Annotated[int, typer.Option(help="Port of the SMTP server.")] = 8025,
) -> None:
    """Serve a local SMTP sink that keeps every mail (nothing is relayed) and a
    page listing them."""
    import uvicorn

    from kameng.sandbox.mail import MailSink, create_app

    typer.echo(f"mail sandbox: SMTP on {host}:{smtp_port}, mails listed on http://{host}:{port}/")
    app = create_app(MailSink(), smtp=(host, smtp_port))
    uvicorn.run(app, host=host, port=port, log_level="warning")


def start_mail_sink(
    supervisor: Supervisor, settings: Settings, serve: list[str], host: str, ports: tuple[int, int]
) -> str:
    """Start ``kameng mail-sandbox`` under ``kameng run`` (page port, SMTP port) and
    point the children started after it at it; returns the page's URL."""
    supervisor.env.update(demo_env(settings, host, ports[1]))
    page = f"http://{host}:{ports[0]}/"
    args = ["-m", "kameng", "mail-sandbox", *serve, "--port", str(ports[0])]
    supervisor.start("mail-sandbox", [*args, "--smtp-port", str(ports[1])], page)
    return page


def demo_env(settings: Settings, host: str, smtp_port: int) -> dict[str, str]:
    """Point the shop's receipts at the sink, unless a real SMTP server is configured."""
    if settings.smtp_host:
        return {}
    return {
        "KAMENG_SMTP_HOST": host,
        "KAMENG_SMTP_PORT": str(smtp_port),
        "KAMENG_SMTP_STARTTLS": "0",
        "KAMENG_SMTP_FROM": settings.smtp_from or DEMO_SENDER,
    }


def banner_line(settings: Settings, page: str, host: str, smtp_port: int) -> str:
    if settings.smtp_host:
        return f"  邮件沙箱 Mail sink   {page}  (unused: receipts go to {settings.smtp_host})"
    return f"  邮件沙箱 Mail sink   {page}  (receipts sent by the shop; SMTP {host}:{smtp_port})"


def receipt_config(settings: Settings) -> ReceiptConfig | None:
    """The worker's receipts: None (off) unless an SMTP server and a sender are set."""
    from kameng.receipts.mailer import SmtpMailer
    from kameng.receipts.tasks import ReceiptConfig

    mailer = SmtpMailer.from_settings(settings)
    return ReceiptConfig(mailer, settings.public_url) if mailer else None
