"""The `postino` command line: one subcommand per role, plus operator tools."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from importlib import metadata

from worker import eventloop, logs, tracing
from worker.adapters.kafka_security import KafkaRefused
from worker.bootstrap import Stopped
from worker.health import Health
from worker.lifecycle import install_signal_handlers, migrate_database, operated, run_roles
from worker.roles.registry import ROLES
from worker.settings import ConfigError, Settings, load_settings


def _version() -> str:
    try:
        return metadata.version("postino")
    except metadata.PackageNotFoundError:
        return "unknown"


VERSION = _version()
Command = Callable[[Settings, argparse.Namespace], int]
log = logs.get("postino.main")


async def _run_roles(
    settings: Settings,
    names: Sequence[str],
    stop: asyncio.Event | None = None,
    health: Health | None = None,
) -> int:
    """Run the roles until SIGINT/SIGTERM (or `stop`); waits for the database and the
    broker first (alive, not ready meanwhile), and a stop while waiting is a clean exit."""
    if stop is None:
        stop = asyncio.Event()
        install_signal_handlers(stop)
    try:
        async with operated(settings, "-".join(names), stop, health) as runtime:
            return await run_roles(runtime, names, stop)
    except Stopped as waiting:
        log.info("stopped_while_waiting", dependency=str(waiting), roles=list(names))
        return 0


def _cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    applied = asyncio.run(migrate_database(settings))
    print(f"migrations applied: {', '.join(applied) or 'none pending'}")
    if args.with_topics:
        from worker.cli.topics import topics

        return asyncio.run(topics(settings, dry_run=False, path=None, show=print))
    return 0


def _role_command(name: str) -> Command:
    def command(settings: Settings, _: argparse.Namespace) -> int:
        return eventloop.run(_run_roles(settings, [name]), settings)

    return command


def _cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    return eventloop.run(_run_roles(settings, args.roles), settings)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    parser = argparse.ArgumentParser(prog="postino", description=__doc__)
    parser.add_argument("--version", action="version", version=f"postino {VERSION}")
    sub = parser.add_subparsers(dest="command", required=True)
    commands: dict[str, Command] = {}
    migrate = sub.add_parser("migrate", help="apply the database migrations (only)")
    migrate.add_argument(
        "--with-topics", action="store_true", help="then apply deploy/topics.yaml (a release job)"
    )
    commands["migrate"] = _cmd_migrate
    for name in ROLES:
        sub.add_parser(name, help=f"run the {name} role")
        commands[name] = _role_command(name)
    run = sub.add_parser("run", help="run several roles in one process")
    run.add_argument("roles", nargs="+", choices=sorted(ROLES))
    commands["run"] = _cmd_run
    from worker.cli import register_devkit, register_tools

    register_devkit(sub, commands)
    register_tools(sub, commands)
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    parser, commands = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"postino: configuration error: {exc}", file=sys.stderr)
        return 2
    role = "-".join(args.roles) if args.command == "run" else args.command
    logs.configure(settings.log_level, settings.log_format, role=role, version=VERSION)
    tracing.configure(role, VERSION)  # on only when OTEL_EXPORTER_OTLP_ENDPOINT is set
    try:
        return commands[args.command](settings, args)
    except ConfigError as exc:
        print(f"postino: configuration error: {exc}", file=sys.stderr)
        return 2
    except KafkaRefused as exc:
        # Not worth retrying: the credentials or certificates are the operator's to fix.
        log.error("kafka_refused", error=str(exc))
        print(f"postino: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        tracing.shutdown()  # flushes the spans still buffered


if __name__ == "__main__":
    sys.exit(main())
