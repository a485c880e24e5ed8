"""Features declare, the station assembles: one ``Feature`` per feature module, one ordered table per version.

A feature module ends with its declaration, ``FEATURE = Feature(...)``: its name and the profile that
offers it, the service it builds, the CSMS-initiated actions that service answers, the configuration
keys (1.6) or device-model variables (2.0.1) and store tables it owns, the features it needs, and how it
is built. ``assemble`` walks a version's table (``v16/table.py``, ``v201/table.py``), which is also the
dependency order: a feature of an offered
profile is built, with the kernel and the features it declared it needs; a feature of a profile the
station does not offer is not built at all, so its keys are not served (K-4), it takes part in
nothing, and its actions are answered NotSupported (checklist 1.4) but for the answers it declares
as ``absent``: where the standard gives the response itself a value for "not offered" (T-16:
GetLocalListVersion -1 and SendLocalList NotSupported, L-1, C-12; ReserveNow Rejected, R-3), those
are registered in its place, and nothing else of it. That is the one policy.

A build reaches another feature only through ``Needs``, which hands out what the declaration names
and nothing else; it hooks its service into another's decision through that service's extension
points (``AuthorizationService.lists``, ``TransactionService.start_permits`` and ``energy``,
``ConnectorsService.observers``), never by assigning another service's attributes.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

from chargebox.rpc import Handler
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.service import Service

S = TypeVar("S", bound=Service[Any])
T = TypeVar("T", bound=Service[Any])


@dataclass(frozen=True, slots=True, kw_only=True)
class Feature(Generic[S]):
    """One feature as the station assembles it."""

    name: str
    profile: str  # the profile whose offer builds it (1.6: a feature profile; Security for the whitepaper's)
    service: type[S]
    build: Callable[[Kernel[Any], Needs], S]
    # exactly the keys of the service's handlers(), in its version's Action (1.6's or 2.0.1's)
    actions: frozenset[enum.StrEnum] = frozenset()
    withdraws: frozenset[enum.StrEnum] = frozenset()  # another feature's actions it answers NotSupported (SF-10)
    keys: frozenset[str] = frozenset()  # 1.6: the configuration keys it owns (from the catalogue)
    # 2.0.1: the device-model variables it owns, one declaration each (``v201.variables.Variable``), read
    # before anything is built: the device model holds those of the offered features
    variables: tuple[Any, ...] = ()
    tables: frozenset[str] = frozenset()  # the store tables it owns (their module owns the migrations)
    needs: tuple[type[Service[Any]], ...] = ()  # built before it, in the table
    # its answers when its profile is not offered, where the response can say so (T-16); the rest NotSupported
    absent: Mapping[enum.StrEnum, Handler] = field(default_factory=dict)


class Needs:
    """The features built so far, as one feature's build may reach them: only those it declared."""

    def __init__(self, feature: Feature[Any], built: Mapping[type[Service[Any]], Service[Any]]) -> None:
        self._feature = feature
        self._built = built

    def __call__(self, kind: type[T]) -> T:
        """The built service of that kind; LookupError if undeclared or not built before (a table bug)."""
        if kind not in self._feature.needs:
            raise LookupError(f"feature {self._feature.name} needs {kind.__name__} without declaring it")
        service = self._built.get(kind)
        if not isinstance(service, kind):
            raise LookupError(f"feature {self._feature.name} needs {kind.__name__}, which is not built before it")
        return service


@dataclass(frozen=True, slots=True)
class Plan:
    """What a table builds for one offer: the features built, in table order, the actions answered NotSupported and
    the absent answers. The same for every station of that table and offer, so a fleet holds it once."""

    table: tuple[Feature[Any], ...]
    offered: frozenset[str]
    features: tuple[Feature[Any], ...]
    withheld: frozenset[enum.StrEnum]  # of features not built (but their absent answers), and withdrawn by one that is
    absent: tuple[tuple[enum.StrEnum, Handler], ...]  # the absent answers of the features not built

    @classmethod
    def of(cls, table: tuple[Feature[Any], ...], offered: frozenset[str]) -> Plan:
        features = tuple(feature for feature in table if feature.profile in offered)
        missing = [feature for feature in table if feature.profile not in offered]
        withdrawn = {action for feature in features for action in feature.withdraws}
        absent = tuple((a, f.absent[a]) for f in missing for a in sorted(f.absent) if a not in withdrawn)
        withheld = {action for f in missing for action in f.actions - f.absent.keys()} | withdrawn
        return cls(table, offered, features, frozenset(withheld), absent)


# The plans made so far, by table and offer (a fleet's stations share a few); bounded, for tests that make tables.
_PLANS: dict[tuple[int, frozenset[str]], Plan] = {}
_MAX_PLANS: Final = 32


def plan(table: tuple[Feature[Any], ...], offered: frozenset[str]) -> Plan:
    """The plan of that table and offer, made once."""
    made = _PLANS.get((id(table), offered))
    if made is None or made.table is not table:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        made = _PLANS[id(table), offered] = Plan.of(table, offered)
    return made


@dataclass(frozen=True, slots=True)
class Assembly:
    """The features a station built, in table order, and the actions it answers NotSupported."""

    plan: Plan
    by_service: Mapping[type[Service[Any]], Service[Any]]  # in table order

    @property
    def built(self) -> tuple[tuple[Feature[Any], Service[Any]], ...]:
        return tuple((feature, self.by_service[feature.service]) for feature in self.plan.features)

    @property
    def withheld(self) -> frozenset[enum.StrEnum]:
        return self.plan.withheld

    @property
    def services(self) -> list[Service[Any]]:
        return [self.by_service[feature.service] for feature in self.plan.features]

    def get(self, kind: type[T]) -> T | None:
        """The built service of that kind, None when its profile is not offered."""
        service = self.by_service.get(kind)
        return service if isinstance(service, kind) else None

    def need(self, kind: type[T]) -> T:
        """The built service of that kind (one every station has); LookupError if it is not built."""
        service = self.get(kind)
        if service is None:
            raise LookupError(f"no {kind.__name__} is built")
        return service

    def handlers(self) -> Iterator[tuple[enum.StrEnum, Handler]]:
        """What each feature answers: the actions it declared, taken from its service's handlers(), and for a
        feature not built its absent answers."""
        withheld = self.plan.withheld
        for feature, service in self.built:
            handlers = service.handlers()
            for action in sorted(feature.actions - withheld):
                yield action, handlers[action]
        yield from self.plan.absent


def assemble(kernel: Kernel[Any], table: Iterable[Feature[Any]], offered: frozenset[str]) -> Assembly:
    """Build the features of the offered profiles, in table order."""
    made = plan(tuple(table), offered)  # the same tuple when given one
    built: dict[type[Service[Any]], Service[Any]] = {}
    for feature in made.features:
        built[feature.service] = feature.build(kernel, Needs(feature, built))
    return Assembly(made, built)
