"""The ``chargebox`` command: demo, csms, ca, simulate, run, fleet, swarm, device-model, firmware-image, mcp.

Every error an operator can cause (a bad flag, an unreadable or invalid file, a port in use, an
unreachable central system) prints one line and exits with code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import importlib.util
import json
import logging
import os
import re
import signal
import ssl
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

from websockets.frames import Frame, Opcode

from chargebox import __version__, security_profile
from chargebox.auto_sessions import (
    MAX_ARRIVAL_RATE,
    MAX_AUTO_SECONDS,
    MAX_CARDS,
    MAX_SESSIONS,
    MIN_ARRIVAL_RATE,
    MIN_AUTO_SECONDS,
    AutoSettings,
    arrival_gap,
    card_list_problem,
    card_problem,
)
from chargebox.credentials import secret, token_problem
from chargebox.csms_policy import POLICIES
from chargebox.errors import ConfigError, UserError
from chargebox.protocol.messages import Reason
from chargebox.redact import redact, redact_logger
from chargebox.station.front import VERSIONS
from chargebox.station.kernel.settings import Identity
from chargebox.station.kernel.tls import TlsSettings
from chargebox.station.station import StationSettings
from chargebox.station.v16.config_keys import MAX_CONNECTORS
from chargebox.tasks import event_loop_factory
from chargebox.transfer import TransferSettings
from chargebox.transport import ReconnectPolicy, csms_url_problem
from chargebox.user_files import MIB, ca_context, read_bytes, read_config, read_document, read_text

if TYPE_CHECKING:
    from chargebox.csms.ca import CertificateAuthority

# T-41: AuthorizationKey is 16 to 40 printable characters (docs/reference/config-keys.md).
PASSWORD_LENGTH: Final = range(16, 41)
# firmware-image --payload: read this much at most, so /dev/zero or a wrong file cannot eat the memory.
MAX_PAYLOAD: Final = 64 * MIB
PASSWORD_ENV: Final = "CHARGEBOX_PASSWORD"
TOKEN_ENV: Final = "CHARGEBOX_CONTROL_TOKEN"
MCP_TOKEN_ENV: Final = "CHARGEBOX_MCP_TOKEN"
_MCP_EXTRA: Final = frozenset({"mcp", "mcp_types", "uvicorn", "starlette", "jsonschema"})  # what chargebox[mcp] adds
# what a clean stop ends transactions with (docs/reliability.md, "A clean stop").
SIGTERM_REASONS: Final = (Reason.OTHER.value, Reason.REBOOT.value)
_DATA_OPCODES: Final = frozenset({Opcode.TEXT, Opcode.BINARY, Opcode.CONT})
_FILE_STEM: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # chargebox ca issue: DIR/STEM.pem
# fleet --count: one process's stations (docs/performance.md: 10,000 held on a core, ~84 KiB each; this is ~8 GiB).
MAX_FLEET_STATIONS: Final = 100_000
MAX_FLEET_PROCESSES: Final = 1024  # fleet --processes


class _Parser(argparse.ArgumentParser):
    """Every parser and subparser of the command: no abbreviations (``--ocpp`` must never be read as
    ``--ocpp-config``, nor a new option change what an old command line means), one line on an error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """One clear line and exit 2 (argparse prints the whole usage by default)."""
        self.exit(2, f"{self.prog}: error: {message}\n")


class _DefaultsHelp(argparse.HelpFormatter):
    """--help shows every option's default (one that is absent says what happens in its help text)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help = action.help or ""
        if action.default in (None, False, [], argparse.SUPPRESS) or "%(default)" in help:
            return help
        return help + " (default: %(default)s)"


def main(argv: Sequence[str] | None = None) -> int:
    exits = argv is None  # the process is this command (not a program that calls main())
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser(swarm="swarm" in argv)
    args, rest = parser.parse_known_args(argv)
    if args.command == "swarm":  # Locust takes every option that is not ours
        return _swarm(args, argv[argv.index("swarm") + 1 :])
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command is None:
        parser.print_help()
        return 2
    root = logging.getLogger()
    present = list(root.handlers)  # an embedding program's (or pytest's) handlers are not ours to filter
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s %(message)s",
        stream=sys.stderr,
    )
    if args.command == "run":  # journald reads "<N>" priorities and adds its own timestamps
        from chargebox.run.app import journal_logging

        journal_logging()
    if not args.verbose and args.command != "csms":  # the central system logs every frame; a station only with -v
        for handler in root.handlers:
            if handler not in present:
                handler.addFilter(_no_frames)
    if not args.verbose:
        logging.getLogger("websockets").setLevel(logging.WARNING)
    for name in ("websockets.client", "websockets.server"):  # -v logs every handshake header
        redact_logger(name)
        logging.getLogger(name).addFilter(_no_data_frames)
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            command = _run_until_signal(args.handler(args), interrupted_code=args.command == "demo", exits=exits)
            return runner.run(command)
    except UserError as exc:
        print(f"chargebox: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _no_frames(record: logging.LogRecord) -> bool:
    """Without -v the frames go to a ``--transcript`` only, not to the terminal too."""
    return record.name != "chargebox.frames"


def _no_data_frames(record: logging.LogRecord) -> bool:
    """``chargebox.frames`` logs every OCPP frame once, with its charge point id: websockets' own debug line for
    the same text frame (``< TEXT '[2,...' [42 bytes]``) would show it twice. Its handshake, ping, pong and close
    lines stay."""
    args = record.args
    return not (isinstance(args, tuple) and args and isinstance(args[0], Frame) and args[0].opcode in _DATA_OPCODES)


def _build_parser(*, swarm: bool = False) -> argparse.ArgumentParser:
    """Every command's options; ``swarm``'s own only when it is the command (they live in ``sim/``, which a real
    charger's ``chargebox run`` never loads)."""
    connector_count = _int_range(1, MAX_CONNECTORS, "connectors")
    station_count = _int_range(1, MAX_FLEET_STATIONS, "stations")  # fleet --count
    install_seconds = _float_range(0, 3600, "seconds")
    connect_rate = _float_range(0.1, 10_000, "connections per second")
    duration = _float_range(0, 30 * 86_400, "seconds", above=True)
    parser = _Parser(prog="chargebox", description="OCPP 1.6J and 2.0.1 charge point stack and simulator.")
    parser.add_argument("--version", action="version", version=f"chargebox {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every frame and debug detail")
    # Every default shown in --help; -v accepted after the command too (SUPPRESS: absent, it keeps the
    # value given before the command).
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    verbose = _Parser(add_help=False)
    verbose.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log every frame and debug detail"
    )

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[verbose], help=help, formatter_class=_DefaultsHelp)

    demo = commands.add_parser(
        "demo", parents=[verbose], help="a central system and a simulated station in one process"
    )
    demo.add_argument("--fleet", action="store_true", help="a live fleet of a few stations instead of the tour")
    demo.set_defaults(handler=_demo)

    csms = command("csms", "run the small built-in central system")
    csms.add_argument(
        "--listen", type=_host_port, default="127.0.0.1:9000", metavar="HOST:PORT", help="serve ws://HOST:PORT/<id>"
    )
    csms.add_argument(
        "--heartbeat-interval", type=_positive_int, default=300, metavar="S", help="the interval BootNotification sets"
    )
    _password_options(csms, "require Basic auth with this AuthorizationKey (T-6)")
    csms.add_argument("--transcript", type=Path, metavar="FILE", help="write every frame as JSON lines")
    csms.add_argument(
        "--control", type=_host_port, metavar="HOST:PORT", help="serve the control API and page (drive the stations)"
    )
    _control_token_options(csms)
    csms.add_argument(
        "--files",
        type=Path,
        metavar="DIR",
        help="with --control: serve DIR at /files/ (firmware images); uploads go to DIR/uploads/",
    )
    csms.add_argument("--cert", type=Path, metavar="PEM", help="serve wss:// with this certificate (profiles 2, 3)")
    csms.add_argument("--key", type=Path, metavar="PEM", help="the private key of --cert")
    csms.add_argument(
        "--ca-cert", type=Path, metavar="PEM", help="check client certificates against this CA (profile 3)"
    )
    csms.add_argument(
        "--ca-key", type=Path, metavar="PEM", help="the key of --ca-cert: sign the CSRs of SignCertificate with it"
    )
    csms.set_defaults(handler=_csms)

    ca = command("ca", "a test CA: the central system's TLS certificate, stations' certificates")
    ca_actions = ca.add_subparsers(dest="ca_action", required=True, parser_class=_Parser)
    ca_init = ca_actions.add_parser("init", help="make a CA: DIR/ca.pem and DIR/ca.key", formatter_class=_DefaultsHelp)
    ca_init.add_argument("directory", type=Path, metavar="DIR", help="where to write it (made if missing)")
    ca_init.add_argument("--organization", default="chargebox test CA", metavar="O", help="the CA's organization")
    ca_init.add_argument("--days", type=_int_range(1, 36_500, "days"), default=3650, help="how long it is valid")
    ca_issue = ca_actions.add_parser(
        "issue", help="a certificate and key signed by the CA of DIR", formatter_class=_DefaultsHelp
    )
    ca_issue.add_argument("directory", type=Path, metavar="DIR", help="the CA's directory (chargebox ca init DIR)")
    leaf = ca_issue.add_mutually_exclusive_group(required=True)
    leaf.add_argument(
        "--server",
        action="append",
        metavar="NAME",
        help="a central system's TLS certificate for NAME (host name or IP address; repeat for more names)",
    )
    leaf.add_argument("--charge-point", metavar="ID", help="a ChargePointCertificate for ID (profile 3)")
    ca_issue.add_argument(
        "--organization", default="chargebox test CPO", metavar="O", help="with --charge-point: the CPO's name (O)"
    )
    ca_issue.add_argument("--days", type=_int_range(1, 3650, "days"), default=365, help="how long it is valid")
    ca_issue.add_argument(
        "--name", metavar="NAME", help="write DIR/NAME.pem and DIR/NAME.key (default: the first name, or the id)"
    )
    ca.set_defaults(handler=_ca)

    sim = command("simulate", "run one simulated charge point")
    sim.add_argument("--csms", required=True, metavar="URL", help="central system URL, ws:// or wss://")
    sim.add_argument("--id", required=True, metavar="ID", help="charge point id")
    sim.add_argument("--ocpp", choices=VERSIONS, default="1.6", help="the OCPP version the station speaks")
    sim.add_argument(
        "--connectors",
        type=connector_count,
        metavar="N",
        help=f"1 to {MAX_CONNECTORS} (without it: the NumberOfConnectors key, else 1); 2.0.1: N EVSEs of one "
        "connector each",
    )
    sim.add_argument("--data-dir", type=Path, metavar="DIR", help="persist here (without it: in memory)")
    _password_options(sim, "AuthorizationKey for Basic auth (security profile 1)")
    sim.add_argument("--vendor", default="chargebox", help="chargePointVendor of BootNotification")
    sim.add_argument("--model", default="Simulator", help="chargePointModel of BootNotification")
    sim.add_argument(
        "--serial", default=None, help="chargePointSerialNumber of BootNotification (without it: none sent)"
    )
    sim.add_argument("--firmware-version", default=__version__, help="firmwareVersion of BootNotification")
    sim.add_argument("--control", type=_host_port, metavar="HOST:PORT", help="serve the control API and the dashboard")
    _control_token_options(sim)
    sim.add_argument("--plugged", type=_int_list, default=[], metavar="1,2", help="cables plugged at start")
    sim.add_argument(
        "--ocpp-config",
        type=Path,
        metavar="FILE",
        help="what the station starts with (JSON/TOML): 1.6, configuration keys; 2.0.1, device-model entries as "
        "`chargebox device-model` prints them",
    )
    sim.add_argument("--fixed-cable", action="store_true", help="tethered cables: nothing to unlock")
    sim.add_argument("--compression", action="store_true", help="offer permessage-deflate (off by default)")
    sim.add_argument("--give-up-after", type=_positive_int, metavar="N", help="exit 2 after N failed attempts")
    sim.add_argument("--transcript", type=Path, metavar="FILE", help="write every frame as JSON lines")
    sim.add_argument(
        "--upload-method",
        choices=("put", "post"),
        default="put",
        help="GetDiagnostics to an http(s) directory: PUT <dir>/<file> or POST multipart to <dir>",
    )
    sim.add_argument(
        "--ca-file",
        type=Path,
        metavar="PEM",
        help="trust this CA for wss:// and https/ftps files",
    )
    sim.add_argument(
        "--install-root",
        type=Path,
        metavar="PEM",
        help="install this CA as a CentralSystemRootCertificate (2.0.1: CSMSRootCertificate) at start if the station "
        "holds none (factory provisioning; unlike --ca-file it is in the certificate store the central system manages)",
    )
    sim.add_argument(
        "--signed-firmware-only",
        action="store_true",
        help="offer SignedUpdateFirmware; plain UpdateFirmware is then answered NotSupported (SF-10); 1.6 only",
    )
    sim.add_argument("--tls-server-name", metavar="NAME", help="the name the central system's certificate must carry")
    sim.add_argument("--cert", type=Path, metavar="PEM", help="ChargePointCertificate (with chain) for profile 3")
    sim.add_argument("--key", type=Path, metavar="PEM", help="the private key of --cert")
    sim.add_argument(
        "--security-profile",
        type=int,
        choices=(0, 1, 2, 3),
        metavar="N",
        help="SecurityProfile at start, 0 to 3 (without it: 3 for wss:// with --cert/--key, 2 for wss://, "
        "1 with a password, else 0)",
    )
    sim.add_argument(
        "--install-seconds", type=install_seconds, default=1.0, metavar="S", help="how long a simulated install takes"
    )
    sim.add_argument(
        "--sigterm-reason",
        choices=SIGTERM_REASONS,
        default="Other",
        help="StopTransaction reason of the transactions SIGTERM or Ctrl-C ends: Reboot when a service manager "
        "starts the station again (systemd Restart=), Other when it is taken out of service",
    )
    sim.add_argument(
        "--max-download-mb",
        type=_positive_int,
        default=TransferSettings().max_download_bytes // MIB,
        metavar="MB",
        help="a firmware image larger than this fails to download",
    )
    sim.set_defaults(handler=_simulate)

    run = command("run", "run one real station from its file (docs/howto/integrate.md)")
    run.description = (
        "Run one real station from its file until SIGTERM, which ends running transactions with the file's "
        "[station] sigterm_reason: Reboot (the default: a service manager starts chargebox again) or Other."
    )
    run.add_argument("--config", required=True, type=Path, metavar="FILE", help="the station file (TOML)")
    run.set_defaults(handler=_run)

    fleet = command("fleet", "N simulated stations, sharing one store per process")
    fleet.add_argument(
        "--csms",
        required=True,
        action="append",
        metavar="URL",
        help="central system URL: ws://, or wss:// with --ca-file (profile 2); again for several, of one scheme",
    )
    fleet.add_argument(
        "--csms-policy",
        choices=POLICIES,
        default="round-robin",
        help="which --csms URL each station connects to: by index, drawn with --seed, or by a hash of its id",
    )
    fleet.add_argument(
        "--count", type=station_count, metavar="N", help=f"stations, 1 to {MAX_FLEET_STATIONS} (none with --plan)"
    )
    fleet.add_argument(
        "--plan", type=Path, metavar="FILE", help="a timeline of stations added, stopped, removed and scenarios (TOML)"
    )
    fleet.add_argument(
        "--processes",
        type=_processes,
        default=1,
        metavar="N",
        help="run the stations in N processes, one per core ('auto': as many as this machine has), with one table, "
        "one --stats-json and one --control",
    )
    fleet.add_argument(
        "--ocpp",
        type=_ocpp_mix,
        metavar="MIX",
        help="the OCPP version of every station (1.6, 2.0.1), or a mix by percentage: 1.6:70,2.0.1:30 (default: the "
        "template's [station] ocpp, else 1.6)",
    )
    fleet.add_argument("--id-prefix", default="CP", metavar="P", help="ids are P1..PN")
    fleet.add_argument("--connectors", type=connector_count, metavar="C", help="per station (default: template, 1)")
    fleet.add_argument("--template", type=Path, metavar="FILE", help="station template (TOML, see sim/template.py)")
    fleet.add_argument("--connect-rate", type=connect_rate, default=50.0, metavar="R", help="connections/s")
    fleet.add_argument("--duration", type=duration, metavar="S", help="end after S seconds, exit 0")
    fleet.add_argument("--data-dir", type=Path, metavar="DIR", help="one shared store file here (default: memory)")
    fleet.add_argument("--auto", action="store_true", help="automatic sessions: EVs arrive, charge and leave")
    fleet.add_argument("--seed", type=int, default=0, metavar="K", help="seed of --auto")
    _auto_options(fleet)
    fleet.add_argument("--stats-json", type=Path, metavar="FILE", help="write the final figures as JSON")
    fleet.add_argument("--control", type=_host_port, metavar="HOST:PORT", help="serve the fleet's control API")
    _control_token_options(fleet)
    _password_options(fleet, "AuthorizationKey of every station (Basic auth: security profile 1, 2 over wss://)")
    fleet.add_argument("--ca-file", type=Path, metavar="PEM", help="trust this CA for wss:// (security profile 2)")
    fleet.add_argument("--tls-server-name", metavar="NAME", help="the name the central system's certificate carries")
    fleet.add_argument(
        "--ca-cert", type=Path, metavar="PEM", help="issue each station a certificate from this CA (profile 3, wss://)"
    )
    fleet.add_argument("--ca-key", type=Path, metavar="PEM", help="the private key of --ca-cert")
    fleet.set_defaults(handler=_fleet)

    swarm_command = commands.add_parser(
        "swarm",
        help="stations on Locust, on many machines: one user = one station (pip install 'chargebox[locust]')",
        description="Run Locust with chargebox's locustfile: every option not listed here is Locust's own "
        "(--users, --spawn-rate, --run-time, --headless, --processes, --master, --worker --master-host, --csv, "
        "--html, ...: locust --help) and passes through unchanged. The same as: locust -f "
        '"$(chargebox swarm --print-locustfile)" OPTIONS (docs/howto/swarm.md).',
        formatter_class=_DefaultsHelp,
    )
    if swarm:
        from chargebox.sim import swarm_options

        swarm_options.add_options(swarm_command)
    swarm_command.add_argument("--print-locustfile", action="store_true", help="print the locustfile's path and exit")
    swarm_command.set_defaults(handler=None)

    agent = command("mcp", "an MCP server (Model Context Protocol): the control APIs as tools for AI agents")
    agent.description = (
        "Serve chargebox's control operations as MCP tools, over stdio (an agent starts this command) or streamable "
        "HTTP (--http), driving the control APIs of running simulate, fleet and csms processes. Needs the mcp extra: "
        "pip install 'chargebox[mcp]'."
    )
    agent.add_argument("--station", type=_control_url, metavar="URL", help="a simulate --control API (http://H:P)")
    agent.add_argument("--fleet", type=_control_url, metavar="URL", help="a fleet --control API")
    agent.add_argument("--csms", type=_control_url, metavar="URL", help="a csms --control API (not its ws:// URL)")
    way = agent.add_mutually_exclusive_group()
    way.add_argument("--control-token", metavar="T", help=f"the control APIs' token; visible in ps: prefer {TOKEN_ENV}")
    way.add_argument(
        "--control-token-file", type=Path, metavar="FILE", help="the control APIs' token, read from FILE (one line)"
    )
    agent.add_argument(
        "--http", type=_host_port, metavar="HOST:PORT", help="serve streamable HTTP at http://HOST:PORT/mcp, not stdio"
    )
    agent.add_argument(
        "--http-token-file",
        type=Path,
        metavar="FILE",
        help=f"require this token (FILE's one line, or {MCP_TOKEN_ENV}) of --http; required unless it is on loopback",
    )
    agent.set_defaults(handler=_mcp)

    model = command("device-model", "print a simulated 2.0.1 station's device model, as --ocpp-config takes it")
    model.add_argument(
        "--ocpp", required=True, choices=("2.0.1",), help="the OCPP version (1.6 has configuration keys instead)"
    )
    model.add_argument("--connectors", type=connector_count, metavar="N", help="N EVSEs of one connector each")
    model.add_argument("--ocpp-config", type=Path, metavar="FILE", help="device-model entries to start from")
    model.add_argument("--fixed-cable", action="store_true", help="tethered cables (ConnectorType cType2)")
    model.set_defaults(handler=_device_model)

    image = commands.add_parser(
        "firmware-image", parents=[verbose], help="write a firmware image in the simulator's format"
    )
    image.add_argument("--version", required=True, dest="image_version", metavar="V", help="its firmwareVersion")
    image.add_argument(
        "--output", required=True, type=Path, metavar="FILE", help="where to write the image (its directory is made)"
    )
    image.add_argument("--payload", type=Path, metavar="FILE", help="the payload (without it: 1 MiB of filler)")
    image.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    image.add_argument("--sign", type=Path, metavar="KEY", help="sign the image with this PEM key (writes FILE.sig)")
    image.add_argument("--cert", type=Path, metavar="CERT", help="the signing certificate of --sign (PEM)")
    image.set_defaults(handler=_firmware_image)
    return parser


def _password_options(parser: argparse.ArgumentParser, what: str) -> None:
    way = parser.add_mutually_exclusive_group()
    way.add_argument("--password", metavar="P", help=f"{what}; visible in ps: prefer --password-file or {PASSWORD_ENV}")
    way.add_argument("--password-file", type=Path, metavar="FILE", help=f"{what}, read from FILE (one line)")


AUTO_OPTIONS: Final = ("mean_gap", "arrival_rate", "session_seconds", "cards", "card_pattern", "card_count",
                       "start_probability", "sessions")  # fmt: skip


def _auto_options(fleet: argparse.ArgumentParser) -> None:
    """The ``--auto`` generator's settings, each one of ``AutoSettings`` (the template's ``[auto]`` mirrored)."""
    default = AutoSettings()
    arrival = fleet.add_mutually_exclusive_group()
    arrival.add_argument(
        "--mean-gap",
        type=_auto_seconds(),
        metavar="S",
        help=f"--auto: mean seconds between an EV leaving and the next arriving, per connector (default: the "
        f"template's [auto] mean_gap, else {default.mean_gap_s:g})",
    )
    arrival.add_argument(
        "--arrival-rate",
        type=_float_range(MIN_ARRIVAL_RATE, MAX_ARRIVAL_RATE, "EVs per hour"),
        metavar="R",
        help="--auto: EVs per hour per connector, instead of --mean-gap (a mean gap of 3600/R seconds)",
    )
    fleet.add_argument(
        "--session-seconds",
        type=_session_range,
        metavar="MIN,MAX",
        help=f"--auto: how long an EV stays at most (default: the template's [auto], else "
        f"{default.session_min_s:g},{default.session_max_s:g}); it leaves earlier once charged to its target SoC",
    )
    cards = fleet.add_mutually_exclusive_group()
    cards.add_argument("--cards", type=Path, metavar="FILE", help="--auto: the idTags presented, one a line")
    cards.add_argument(
        "--card-pattern",
        metavar="P",
        help=f"--auto: the idTags presented, P.format(0 .. --card-count - 1) (default: {default.card_pattern})",
    )
    fleet.add_argument(
        "--card-count", type=_int_range(1, MAX_CARDS, "cards"), metavar="N", help=f"default: {default.cards}"
    )
    fleet.add_argument(
        "--start-probability",
        type=_float_range(0.0, 1.0, "(a probability)"),
        metavar="P",
        help="--auto: of an arriving EV presenting a card; the others plug, start nothing and leave (default: 1)",
    )
    fleet.add_argument(
        "--sessions",
        type=_int_range(1, MAX_SESSIONS, "EVs"),
        metavar="N",
        help="--auto: each connector stops generating after N EVs (default: no end)",
    )


def _auto_settings(args: argparse.Namespace, auto: AutoSettings) -> AutoSettings:
    """The template's ``[auto]`` with the options given on the command line instead."""
    given = [name for name in AUTO_OPTIONS if getattr(args, name) is not None]
    if given and not args.auto:
        raise UserError(f"--{given[0].replace('_', '-')} shapes the sessions of --auto: add --auto")
    if args.arrival_rate is not None:
        auto = dataclasses.replace(auto, mean_gap_s=arrival_gap(args.arrival_rate))
    if args.mean_gap is not None:
        auto = dataclasses.replace(auto, mean_gap_s=args.mean_gap)
    if args.session_seconds is not None:
        auto = dataclasses.replace(auto, session_min_s=args.session_seconds[0], session_max_s=args.session_seconds[1])
    if args.start_probability is not None:
        auto = dataclasses.replace(auto, start_probability=args.start_probability)
    if args.sessions is not None:
        auto = dataclasses.replace(auto, sessions=args.sessions)
    if args.cards is not None:
        if args.card_count is not None:
            raise UserError("--card-count counts the cards of --card-pattern: --cards FILE lists them")
        lines = read_text(args.cards, "--cards", MIB).splitlines()
        tags = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        if problem := card_list_problem(tags):
            raise UserError(f"--cards {args.cards}: {problem}")
        auto = dataclasses.replace(auto, card_list=tuple(tags), cards=len(tags))
    elif args.card_pattern is not None or args.card_count is not None:
        pattern = auto.card_pattern if args.card_pattern is None else args.card_pattern
        count = auto.cards if args.card_count is None else args.card_count
        if problem := card_problem(pattern, count):
            raise UserError(f"--card-pattern: {problem}")
        auto = dataclasses.replace(auto, card_list=(), card_pattern=pattern, cards=count)
    return auto


def _control_token_options(parser: argparse.ArgumentParser) -> None:
    way = parser.add_mutually_exclusive_group()
    way.add_argument(
        "--control-token", metavar="T", help=f"require this token of --control; visible in ps: prefer {TOKEN_ENV}"
    )
    way.add_argument(
        "--control-token-file",
        type=Path,
        metavar="FILE",
        help="require the token in FILE (one line) of --control; required unless --control is on loopback",
    )


async def _run_until_signal(
    main: Coroutine[Any, Any, int], *, interrupted_code: bool = False, exits: bool = False
) -> int:
    """Run a command; SIGTERM and SIGINT end it cleanly (everything persisted is already on disk), with
    a log line that says why it stops. A service stopped so exits 0; a demo that did not run to its
    end (``interrupted_code``) exits 128 + the signal's number, as a shell reports it."""
    task = asyncio.ensure_future(main)
    loop = asyncio.get_running_loop()
    received: list[signal.Signals] = []

    def stop(signum: signal.Signals) -> None:
        logging.getLogger("chargebox").warning("= %s received: shutting down", signum.name)
        received.append(signum)
        task.cancel()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop, signum)
    try:
        code = await task  # a command may end its own way once cancelled
    except asyncio.CancelledError:
        code = 0
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
            if exits:
                # The command has ended and so does the process (``exits``: not a program that called main()):
                # a signal from now on (``timeout`` sends SIGTERM to the process and again to its group; a
                # supervisor may repeat it) must not turn a clean stop into death by that signal (exit 143).
                signal.signal(signum, signal.SIG_IGN)
    return 128 + received[0] if interrupted_code and received else code


async def _csms(args: argparse.Namespace) -> int:
    from chargebox.csms.server import CentralSystem, CsmsPolicy

    password = _password(args)
    token = _control_token(args)
    if args.transcript:
        from chargebox.transcript import open_transcript

        open_transcript(args.transcript)
    logging.getLogger("chargebox.frames").setLevel(logging.DEBUG)
    if args.files is not None and not args.files.is_dir():
        raise UserError(f"--files {args.files}: not a directory")
    if args.files is not None and args.control is None:
        raise UserError("--files needs --control (the files are served by the control API)")
    if args.control:
        from chargebox.web import check_token

        check_token(args.control[0], token, "--control")
    tls, authority = _csms_tls(args)
    system = CentralSystem(
        CsmsPolicy(heartbeat_interval=args.heartbeat_interval, password=password), authority=authority
    )
    host, port = args.listen
    port = await system.start(host, port, tls=tls)
    csms_log = logging.getLogger("chargebox.csms")
    scheme = "ws" if tls is None else "wss"
    csms_log.info("= listening on %s://%s:%d/<charge point id>", scheme, f"[{host}]" if ":" in host else host, port)
    runner = None
    if args.control:
        from chargebox.csms.control import make_app
        from chargebox.web import serve, url

        control_host, control_port = args.control
        runner, control_port = await serve(
            make_app(system, files=args.files), control_host, control_port, "--control", token=token
        )
        csms_log.info("= control page on %s", url(control_host, control_port))
    try:
        await asyncio.Event().wait()
    finally:
        if runner is not None:
            await runner.cleanup()
        await system.stop()
    return 0


def _csms_tls(args: argparse.Namespace) -> tuple[ssl.SSLContext | None, CertificateAuthority | None]:
    """``csms --cert --key`` (wss://), ``--ca-cert`` (client certificates: profile 3), ``--ca-key`` (signing)."""
    from chargebox.csms.ca import CertificateAuthority
    from chargebox.csms.tls import server_context

    if (args.cert is None) != (args.key is None):
        raise UserError("--cert and --key go together")
    if args.ca_key is not None and args.ca_cert is None:
        raise UserError("--ca-key needs --ca-cert")
    authority = CertificateAuthority.load(args.ca_cert, args.ca_key) if args.ca_key is not None else None
    if args.cert is None:
        return None, authority
    return server_context(args.cert, args.key, client_ca=args.ca_cert), authority


async def _ca(args: argparse.Namespace) -> int:
    """``chargebox ca init DIR`` and ``chargebox ca issue DIR``: the PEM files it wrote, one a line."""
    from datetime import UTC, datetime

    from chargebox.csms.ca import CertificateAuthority, load_ca_directory, write_pair
    from chargebox.protocol.identity import identity_problem

    now = datetime.now(UTC)
    if args.ca_action == "init":
        written = CertificateAuthority.create(args.organization, now=now, days=args.days).write(args.directory)
    else:
        authority = load_ca_directory(args.directory)
        if args.charge_point is not None:
            if (problem := identity_problem(args.charge_point)) is not None:
                raise UserError(f"--charge-point {problem}")
            issued = authority.issue_charge_point(args.charge_point, args.organization, now=now, days=args.days)
        else:
            issued = authority.issue_server(args.server, now=now, days=args.days)
        stem = args.name or (args.server[0] if args.charge_point is None else args.charge_point)
        if not _FILE_STEM.fullmatch(stem):
            raise UserError(f"{stem!r} is no file name: give --name NAME (A-Z a-z 0-9 . _ -)")
        written = write_pair(args.directory, stem, issued.certificate, issued.key)
    for path in written:
        print(path)
    return 0


async def _simulate(args: argparse.Namespace) -> int:
    from rich.console import Console

    from chargebox.sim.progress import DownloadProgress
    from chargebox.sim.simulator import Simulator, simulated_station
    from chargebox.transfer import UploadMethod

    _check_csms_url(args.csms)
    _check_charge_point_id(args.id)
    password = _password(args)
    token = _control_token(args)
    if args.transcript:
        from chargebox.transcript import open_transcript

        open_transcript(args.transcript)
    ocpp_config = _read_ocpp_config(args.ocpp_config, args.ocpp) if args.ocpp_config else {}
    profile = security_profile.choose(
        args.security_profile, args.csms, option="--security-profile", password=password is not None,
        client_certificate=args.cert is not None and args.key is not None,
        initial=security_profile.initial_keys(ocpp_config),
    )  # fmt: skip
    settings = StationSettings(
        charge_point_id=args.id,
        csms_url=args.csms,
        ocpp=args.ocpp,
        identity=Identity(
            vendor=args.vendor,
            model=args.model,
            serial_number=args.serial,
            firmware_version=args.firmware_version,
        ),
        connectors=args.connectors,
        data_dir=args.data_dir,
        password=password,
        ocpp_config=ocpp_config,
        ocpp_config_source=f"--ocpp-config {args.ocpp_config}" if args.ocpp_config else "ocpp config",
        fixed_cable=args.fixed_cable,
        compression=args.compression,
        sigterm_reason=Reason(args.sigterm_reason),
        reconnect=ReconnectPolicy(max_attempts=args.give_up_after),
        install_root=args.install_root,
        signed_firmware_only=args.signed_firmware_only,
        tls=TlsSettings(
            ca_file=args.ca_file,
            server_name=args.tls_server_name,
            cert_file=args.cert,
            key_file=args.key,
            security_profile=profile.profile,
        ),
        transfer=TransferSettings(
            ssl_context=ca_context(args.ca_file, "--ca-file") if args.ca_file else None,
            upload_method=UploadMethod(args.upload_method.upper()),
            max_download_bytes=args.max_download_mb * MIB,
        ),
    )
    _check_identity(settings.identity)
    try:
        station = simulated_station(settings)
    except OSError as exc:
        raise UserError(f"cannot use --data-dir {args.data_dir}: {exc.strerror or exc}") from exc
    profile_key = "SecurityProfile" if args.ocpp == "1.6" else "SecurityCtrlr.SecurityProfile"
    station.log.info("= %s", profile.describe(station.config.get_int(profile_key)))
    sim = Simulator(station)
    sim.installer.duration = args.install_seconds
    if station.firmware is not None:  # Firmware Management offered
        DownloadProgress(Console(stderr=True)).follow(station.firmware)
    count = station.kernel.connector_count  # 2.0.1: its EVSEs
    for connector_id in args.plugged:
        if not 1 <= connector_id <= count:
            raise UserError(f"--plugged: no connector {connector_id} (the station has {count})")
    runner = None
    if args.control:
        from chargebox.sim.control import start_control  # only with --control: aiohttp costs ~80 ms of start-up
        from chargebox.web import url

        host, port = args.control
        runner, port = await start_control(sim, host, port, token=token)
        station.log.info("= dashboard on %s (control API: /api/state)", url(host, port))
    try:
        await sim.run(plugged=args.plugged)
    finally:
        if runner is not None:
            await runner.cleanup()
        await sim.stop()
    return 0


def _swarm(args: argparse.Namespace, argv: list[str]) -> int:
    """``chargebox swarm``: check our options, then become Locust with our locustfile and every option unchanged
    (Locust is never imported here: it patches the process for gevent)."""
    from chargebox.sim import swarm_options

    if args.print_locustfile:
        print(swarm_options.LOCUSTFILE)
        return 0
    if importlib.util.find_spec("locust") is None:
        print("chargebox: error: chargebox swarm runs on Locust: pip install 'chargebox[locust]'", file=sys.stderr)
        return 2
    if not any(option == "--worker" for option in argv) and (wrong := swarm_options.problem(args)) is not None:
        print(f"chargebox: error: {wrong}", file=sys.stderr)  # a worker receives our options from its master
        return 2
    command = [sys.executable, "-m", "locust", "-f", str(swarm_options.LOCUSTFILE), *argv]
    if args.verbose:
        command += ["--loglevel", "DEBUG"]
    sys.stdout.flush()
    os.execv(sys.executable, command)


async def _run(args: argparse.Namespace) -> int:
    from chargebox.run.app import run

    return await run(args.config)


async def _fleet(args: argparse.Namespace) -> int:
    from chargebox.sim.fleet import Fleet, FleetSettings
    from chargebox.sim.fleet_command import run_fleet
    from chargebox.sim.fleet_plan import read_plan
    from chargebox.sim.fleet_processes import FleetProcesses, process_settings
    from chargebox.sim.template import Template, read_template

    if args.count is None and args.plan is None:
        raise UserError("--count N is needed (or --plan FILE, whose steps add the stations)")
    if args.plan is not None and args.processes > 1:
        raise UserError("--plan runs in one process: leave out --processes")
    args.count = args.count or 0
    for csms_url in args.csms:
        _check_csms_url(csms_url)
    if len({csms_url.split(":", 1)[0].lower() for csms_url in args.csms}) > 1:  # each is ws:// or wss:// (checked)
        raise UserError("--csms: every URL of a fleet has one scheme, ws:// or wss:// (one security profile)")
    password = _password(args)
    token = _control_token(args)
    _check_charge_point_id(f"{args.id_prefix}{args.count}")  # the longest id the fleet makes
    template = read_template(args.template) if args.template else Template()
    plan = read_plan(args.plan) if args.plan is not None else None
    templates = {args.template.stem: template} if args.template else {}
    for name in templates.keys() & (plan.templates if plan else {}).keys():
        raise UserError(f"--plan {args.plan}: templates: {name!r} is --template's name already")
    templates.update(plan.templates if plan else {})
    auto = _auto_settings(args, template.auto)
    client_ca = _fleet_client_ca(args)
    profile = security_profile.choose(
        None, args.csms[0], option="", password=password is not None, client_certificate=client_ca is not None,
        initial=template.config,
    )  # fmt: skip
    if profile.profile is not None and profile.profile >= 2 and args.ca_file is None:
        raise UserError(
            f"--csms {redact(args.csms[0])!r}: wss:// needs --ca-file PEM, the CA of the central system's certificate "
            "(a fleet connects with security profile 2, or 3 with --ca-cert and --ca-key)"
        )
    if client_ca is not None and profile.profile != 3:
        raise UserError("--ca-cert and --ca-key issue client certificates for security profile 3: --csms wss://")
    if not args.verbose:  # thousands of stations: the table tells the story, the log only what is wrong
        logging.getLogger("chargebox").setLevel(logging.WARNING)
        logging.getLogger("chargebox.fleet").setLevel(logging.INFO)  # but its own start-up lines
    settings = FleetSettings(
        csms_url=args.csms[0], csms_urls=tuple(args.csms), csms_policy=args.csms_policy, count=args.count,
        id_prefix=args.id_prefix, connectors=args.connectors,
        template=template, connect_rate=args.connect_rate, data_dir=args.data_dir, auto=args.auto,
        seed=args.seed, auto_settings=auto, password=password, ocpp=args.ocpp,
        tls=TlsSettings(ca_file=args.ca_file, server_name=args.tls_server_name, security_profile=profile.profile),
        client_ca=client_ca,
    )  # fmt: skip
    processes = min(args.processes, args.count)
    fleet_log = logging.getLogger("chargebox.fleet")
    spread = f" over {len(args.csms)} central systems ({args.csms_policy})" if len(args.csms) > 1 else ""
    fleet: Fleet | FleetProcesses
    if processes > 1:
        fleet_log.info("= %d stations in %d processes%s, %s", args.count, processes, spread, profile.describe())
        for shard in range(processes):  # each process's data dir, checked before any starts (one line, exit 2)
            if (data_dir := process_settings(settings, shard, processes).data_dir) is not None:
                _check_fleet_store(data_dir)
        fleet = FleetProcesses(settings, processes, verbose=args.verbose, control=args.control is not None)
    else:
        fleet_log.info("= %d stations%s, %s", args.count, spread, profile.describe())
        try:
            fleet = Fleet(settings)
        except OSError as exc:
            raise UserError(f"cannot use --data-dir {args.data_dir}: {exc.strerror or exc}") from exc
    return await run_fleet(
        fleet, duration=args.duration, stats_json=args.stats_json, control=args.control, live=sys.stdout.isatty(),
        control_token=token, templates=templates, plan=plan,
    )  # fmt: skip


def _fleet_client_ca(args: argparse.Namespace) -> tuple[Path, Path] | None:
    """``fleet --ca-cert --ca-key``: the CA every station's certificate is issued from, loaded once here so that a
    file that is not usable (or a key not of its certificate) is one line before any station starts."""
    from chargebox.csms.ca import CertificateAuthority

    if (args.ca_cert is None) != (args.ca_key is None):
        raise UserError("--ca-cert and --ca-key go together (the CA that issues the stations' certificates)")
    if args.ca_cert is None:
        return None
    CertificateAuthority.load(args.ca_cert, args.ca_key)
    return args.ca_cert, args.ca_key


def _check_fleet_store(data_dir: Path) -> None:
    """A process's data dir, opened and closed as its fleet will open it: one that cannot be used is one line
    (exit 2) before any process starts."""
    from chargebox.store import StoreBackend

    try:
        StoreBackend.open(data_dir).close()
    except OSError as exc:
        raise UserError(f"cannot use --data-dir {data_dir}: {exc.strerror or exc}") from exc


def _processes(text: str) -> int:
    """``fleet --processes``: a count of processes, or ``auto`` for as many as this process may use cores."""
    if text == "auto":
        return len(os.sched_getaffinity(0))
    return _int_range(1, MAX_FLEET_PROCESSES, "processes or 'auto'")(text)


def _ocpp_mix(text: str) -> tuple[tuple[str, int], ...]:
    """``fleet --ocpp``: a version, or versions with their percentages (sim/ocpp_mix.py)."""
    from chargebox.sim.ocpp_mix import parse_mix

    try:
        return parse_mix(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _session_range(text: str) -> tuple[float, float]:
    """``--session-seconds MIN,MAX``: each a number of seconds ``_auto_seconds`` accepts, MIN not above MAX."""
    low, comma, high = text.partition(",")
    if not comma:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX seconds, got {text!r}")
    seconds = _auto_seconds()
    session = seconds(low.strip()), seconds(high.strip())
    if session[0] > session[1]:
        raise argparse.ArgumentTypeError(f"MIN must not be above MAX, got {text!r}")
    return session


async def _firmware_image(args: argparse.Namespace) -> int:
    """``chargebox firmware-image``: an image the installers verify (see firmware_image.py)."""
    from chargebox.firmware_image import ImageError, default_payload, make_image

    if args.payload:
        payload = read_bytes(args.payload, "--payload", MAX_PAYLOAD)
    else:
        payload = default_payload(args.image_version)
    try:
        image = make_image(args.image_version, payload)
    except ImageError as exc:
        raise UserError(f"--version: {exc}") from exc
    if (args.sign is None) != (args.cert is None):
        raise UserError("--sign and --cert go together")
    existed = args.output.exists()
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)  # firmware-image --output fw/fw-2.0.img in a new tree
    except OSError as exc:
        raise UserError(f"cannot make the directory of --output {args.output}: {exc.strerror or exc}") from exc
    try:
        with args.output.open("wb" if args.force else "xb") as file:
            file.write(image)
    except FileExistsError:
        raise UserError(f"--output {args.output} exists: pass --force to overwrite it") from None
    except OSError as exc:
        raise UserError(f"cannot write --output {args.output}: {exc.strerror or exc}") from exc
    print(f"{args.output}: firmware {args.image_version}, {len(payload)} bytes of payload")
    if args.sign is not None:
        from chargebox.signing import SignatureError, sign_image

        try:
            print(f"{sign_image(args.output, args.sign, args.cert)}: its signature (base64, SignedUpdateFirmware)")
        except SignatureError as exc:
            if not existed:  # an image that cannot be signed as asked is not left behind as if it were
                args.output.unlink(missing_ok=True)
            raise UserError(str(exc)) from exc
    return 0


def _check_csms_url(url: str) -> None:
    problem = csms_url_problem(url)
    if problem is not None:
        raise UserError(f"--csms {redact(url)!r}: {problem}")


def _check_charge_point_id(charge_point_id: str) -> None:
    """The id rule (protocol/identity.py: T-2, T-6, G-1), which the built-in central system holds stations to."""
    from chargebox.protocol.identity import identity_problem

    if (problem := identity_problem(charge_point_id)) is not None:
        raise UserError(f"--id {problem}")


def _password(args: argparse.Namespace) -> str | None:
    """``--password``, ``--password-file`` or ``CHARGEBOX_PASSWORD``; never echoed, not even in part."""
    password, source = secret("--password", PASSWORD_ENV, value=args.password, file=args.password_file)
    if password is not None and not (
        len(password) in PASSWORD_LENGTH and password.isascii() and password.isprintable()
    ):
        raise UserError(
            f"{source} must be {PASSWORD_LENGTH.start} to {PASSWORD_LENGTH.stop - 1} printable ASCII characters "
            "(the AuthorizationKey rule)"
        )
    return password


def _control_token(args: argparse.Namespace) -> str | None:
    """``--control-token``, ``--control-token-file`` or ``CHARGEBOX_CONTROL_TOKEN``: the token ``--control``
    requires (web.py); never echoed."""
    if args.control is None:
        if args.control_token is not None or args.control_token_file is not None:
            raise UserError("--control-token and --control-token-file need --control")
        return None
    token, source = secret("--control-token", TOKEN_ENV, value=args.control_token, file=args.control_token_file)
    if token is not None and (problem := token_problem(token)) is not None:
        raise UserError(f"{source} {problem}")
    return token


async def _mcp(args: argparse.Namespace) -> int:
    """``chargebox mcp``: the agent package (and the ``mcp`` SDK under it) is imported here only."""
    if args.station is None and args.fleet is None and args.csms is None:
        raise UserError("chargebox mcp needs --station, --fleet or --csms URL: the control APIs its tools drive")
    token, source = secret("--control-token", TOKEN_ENV, value=args.control_token, file=args.control_token_file)
    if token is not None and (problem := token_problem(token)) is not None:
        raise UserError(f"{source} {problem}")
    http_token = None
    if args.http is None and args.http_token_file is not None:
        raise UserError("--http-token-file needs --http")
    if args.http is not None:
        from chargebox.web import token_required

        http_token, source = secret("--http-token", MCP_TOKEN_ENV, value=None, file=args.http_token_file)
        if http_token is not None and (problem := token_problem(http_token)) is not None:
            raise UserError(f"{source} {problem}")
        if http_token is None and token_required(args.http[0]):
            raise UserError(
                f"--http {args.http[0]}: not a loopback address, so the MCP server needs a token "
                f"(--http-token-file FILE or {MCP_TOKEN_ENV})"
            )
    try:
        from chargebox.agent.control import ControlClient
        from chargebox.agent.server import run
        from chargebox.agent.tools import Targets
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] not in _MCP_EXTRA:
            raise
        extra = "pip install 'chargebox[mcp]'"
        raise UserError(f"chargebox mcp needs the mcp extra ({exc.name} is missing): {extra}") from exc
    if not args.verbose:  # the SDK and uvicorn log each session and start-up step at INFO
        for name in ("mcp", "uvicorn"):
            logging.getLogger(name).setLevel(logging.WARNING)
    targets = Targets(ControlClient(token), token, station=args.station, fleet=args.fleet, csms=args.csms)
    return await run(targets, args.http, http_token)


async def _demo(args: argparse.Namespace) -> int:
    from chargebox.sim.demo import run_demo

    if not args.verbose:  # the tour tells its own story; the log would interleave with it
        logging.getLogger("chargebox").setLevel(logging.WARNING)
    if args.fleet:
        from chargebox.sim.demo_fleet import run_fleet_demo

        return await run_fleet_demo()
    return await run_demo()


def _read_ocpp_config(path: Path, version: str = "1.6") -> dict[str, object] | list[dict[str, object]]:
    """1.6: an object of configuration key -> value. 2.0.1: a list of device-model entries, in JSON a list and
    in TOML the ``[[entries]]`` tables. Read as every configuration file is (user_files.py: bounded)."""
    if version == "1.6":
        return read_config(path, "--ocpp-config")
    data = read_document(path, "--ocpp-config")
    toml = path.suffix.lower() == ".toml"
    if toml and isinstance(data, dict) and set(data) == {"entries"}:
        data = data["entries"]
    if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
        where = "[[entries]] tables" if toml else "a list of objects"
        raise ConfigError(f"--ocpp-config {path}: must hold {where}, one device-model entry each")
    return data


async def _device_model(args: argparse.Namespace) -> int:
    """``chargebox device-model``: the whole model of a simulated station, in ``--ocpp-config``'s vocabulary."""
    from chargebox.sim.simulator import simulated_station

    settings = StationSettings(
        charge_point_id="device-model",
        csms_url="ws://127.0.0.1:1",  # never connected to: the station is built, not run
        ocpp=args.ocpp,
        connectors=args.connectors,
        ocpp_config=_read_ocpp_config(args.ocpp_config, args.ocpp) if args.ocpp_config else [],
        ocpp_config_source=f"--ocpp-config {args.ocpp_config}" if args.ocpp_config else "ocpp config",
        fixed_cable=args.fixed_cable,
    )
    from chargebox.station.v201.device_model import DeviceModel

    station = simulated_station(settings)
    try:
        assert isinstance(station.config, DeviceModel), "a 2.0.1 station's configuration is its device model"
        entries = station.config.entries()
    finally:
        station.store.close()
    print(json.dumps(entries, indent=2))
    return 0


def _check_identity(identity: Identity) -> None:
    for flag, value, limit in (
        ("--vendor", identity.vendor, 20),
        ("--model", identity.model, 20),
        ("--serial", identity.serial_number, 25),
        ("--firmware-version", identity.firmware_version, 50),
    ):  # B-1: CiString limits of BootNotification
        if value is not None and (not value or len(value) > limit or not value.isascii()):
            raise UserError(f"{flag} must be 1 to {limit} ASCII characters")


def _host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT``, an IPv6 address in brackets (``[::1]:9001``, RFC 3986), which are not part of it."""
    host, sep, port = text.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if ":" not in host:
            raise argparse.ArgumentTypeError(f"expected an IPv6 address in brackets, got {text!r}")
    elif ":" in host:
        raise argparse.ArgumentTypeError(f"an IPv6 address goes in brackets ([::1]:PORT), got {text!r}")
    return host or "127.0.0.1", int(port)


def _control_url(text: str) -> str:
    """A control API's base URL, ``http(s)://HOST[:PORT][/PREFIX]``, returned without its trailing slash."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (a port out of range raises here)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an http:// URL, got {text[:100]!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"expected an http:// URL (the control API), got {text[:100]!r}")
    if "@" in parts.netloc or parts.query or parts.fragment or not text.isprintable() or " " in text:
        raise argparse.ArgumentTypeError(
            f"expected http://HOST:PORT, without credentials, query or fragment (the token: --control-token-file), "
            f"got {text[:100]!r}"
        )
    return text.rstrip("/")


def _float_range(low: float, high: float, unit: str, *, above: bool = False) -> Callable[[str], float]:
    """An option's type: a number of ``unit`` from ``low`` (``above``: more than ``low``) to ``high``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of {unit}, got {text[:20]!r}") from None
        if not ((low < value) if above else (low <= value)) or not value <= high:  # NaN fails both
            raise argparse.ArgumentTypeError(f"expected {low:g} to {high:g} {unit}, got {text[:20]!r}")
        return value

    return parse


def _auto_seconds() -> Callable[[str], float]:
    """fleet ``--mean-gap`` and each end of ``--session-seconds``."""
    return _float_range(MIN_AUTO_SECONDS, MAX_AUTO_SECONDS, "seconds")


def _int_range(low: int, high: int, unit: str) -> Callable[[str], int]:
    """An option's type: a whole number of ``unit`` from ``low`` to ``high``, in ASCII digits."""

    def parse(text: str) -> int:
        if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"expected {low} to {high} {unit}, got {text[:20]!r}")
        return int(text)

    return parse


def _positive_int(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _int_list(text: str) -> list[int]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not all(item.isascii() and item.isdigit() for item in items):
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of connector ids, got {text!r}")
    return [int(item) for item in items]


if __name__ == "__main__":
    raise SystemExit(main())
