"""``chargebox swarm``'s own options, and the stations they describe: shared by the command (which checks them
before it hands everything to Locust) and by the locustfile (``swarm.py``, which adds them to Locust's parser).

Apart from ``swarm.py`` because importing Locust patches the whole process for gevent: the command must check
its options without that, and then become Locust (``os.execv``), which imports the locustfile itself.

Ids are sharded by Locust's ``worker_index``: worker k's stations are ``P(k * SHARD + 1)``, ``P(k * SHARD + 2)``,
..., so no two workers, on one machine or many, use the same id, and each id is the ``--id-prefix`` and a number,
as ``chargebox fleet`` makes them.
"""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import Any, Final

from chargebox.csms_policy import POLICIES
from chargebox.protocol.identity import identity_problem
from chargebox.redact import redact
from chargebox.sim.fleet import FleetSettings
from chargebox.sim.template import Template, read_template
from chargebox.station.v16.config_keys import MAX_CONNECTORS
from chargebox.transport import csms_url_problem

LOCUSTFILE: Final = Path(__file__).with_name("swarm.py")
SHARD: Final = 100_000  # ids per Locust worker: worker k's stations are P(k*SHARD+1)..P((k+1)*SHARD)
MAX_WORKERS: Final = 10_000  # the highest worker_index whose ids are checked against the id rule up front


def add_options(parser: Any) -> None:
    """Ours, on an ``argparse`` parser (the command's) or Locust's ``configargparse`` one (the locustfile's)."""
    parser.add_argument(
        "--csms", action="append", metavar="URL", help="central system URL, ws:// (required); again for several"
    )
    parser.add_argument(
        "--csms-policy", choices=POLICIES, default="round-robin", help="which --csms URL each station connects to"
    )
    parser.add_argument("--id-prefix", default="CP", metavar="P", help=f"ids are P1.. on worker 0, P{SHARD + 1}.. on 1")
    parser.add_argument(
        "--connectors", type=int, metavar="C", help=f"per station, 1 to {MAX_CONNECTORS} (default: template, 1)"
    )
    parser.add_argument("--template", metavar="FILE", help="station template (TOML), at this path on every worker")
    parser.add_argument("--auto", action="store_true", help="automatic sessions: EVs arrive, charge and leave")
    parser.add_argument("--seed", type=int, default=0, metavar="K", help="seed of --auto")


def problem(options: Namespace) -> str | None:
    """What is wrong with our options, in one line, or None."""
    if not options.csms:
        return "--csms URL is required (the central system under test)"
    for url in csms_urls(options):
        if (url_problem := csms_url_problem(url)) is not None:
            return f"--csms {redact(url)!r}: {url_problem}"
        if not url.startswith("ws://"):
            return "--csms: the swarm connects with ws:// (security profile 0); use chargebox fleet for wss://"
    if (id_problem := identity_problem(f"{options.id_prefix}{MAX_WORKERS * SHARD}")) is not None:
        return f"--id-prefix: an id {id_problem}"
    if options.connectors is not None and not 1 <= options.connectors <= MAX_CONNECTORS:
        return f"--connectors: expected 1 to {MAX_CONNECTORS}, got {options.connectors}"
    return None


def fleet_settings(options: Namespace) -> FleetSettings:
    """The stations our options describe (``ConfigError``: a template that cannot be read)."""
    template = read_template(Path(options.template)) if options.template else Template()
    urls = csms_urls(options)
    return FleetSettings(
        csms_url=urls[0], csms_urls=urls, csms_policy=options.csms_policy, count=SHARD, id_prefix=options.id_prefix,
        connectors=options.connectors,
        template=template, auto=options.auto, seed=options.seed,
    )  # fmt: skip


def csms_urls(options: Namespace) -> tuple[str, ...]:
    """``--csms``, given once or more; one string when Locust's web UI set it (its form has one field per option)."""
    return (options.csms,) if isinstance(options.csms, str) else tuple(options.csms)
