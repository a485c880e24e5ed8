"""CALLRESULT fuzzing: every answer a central system sends a station, at the edges of its schema (issue 16;
docs/reliability.md, "Values from the wire"). The rig and the oracle are ``tests/hardening/answers.py``;
``python -m tools.fuzz`` runs the long campaign."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.hardening.answers import (
    ATTEMPTS,
    TARGETS,
    Plan,
    Run,
    check,
    edge_sites,
    plans,
    run,
    seed,
    verdict,
    with_value,
)
from tests.hardening.test_fuzz import fuzz

WAIT = 60.0  # seconds of real time one run may take: a run that hangs is a station that blocks
# Every value of every answer at each edge of its schema, alone: 167 answers.
EDGES = [(target, path, value) for target in TARGETS for path, values in edge_sites(target) for value in values]


async def checked(plan: Plan) -> Run:
    result = await asyncio.wait_for(run(plan), WAIT)
    check(result)
    return result


@pytest.mark.parametrize("target", TARGETS)
async def test_the_scenario_has_the_station_send_every_action_it_receives_an_answer_to(target: str) -> None:
    """The valid seed as the plan: the scenario reaches every target, and the oracle holds on valid answers."""
    result = await checked(Plan(target, seed(target), times=1))
    assert {e.action for e in result.exchanges} == set(TARGETS)
    assert any(e.fuzzed and e.action == target for e in result.exchanges)


@pytest.mark.parametrize(("target", "path", "value"), EDGES, ids=[f"{t}.{'.'.join(p)}={v!r:.24}" for t, p, v in EDGES])
async def test_Q_4_each_value_of_each_answer_at_each_edge_of_its_schema(target: str, path: tuple[str, ...],
                                                                        value: object) -> None:  # fmt: skip
    """Answered TransactionMessageAttempts times: an answer the station refuses takes a journaled message to the
    dead letters (and its transaction to transactionId -1, X-4); one it accepts is applied at once."""
    await checked(Plan(target, with_value(seed(target), path, value), times=ATTEMPTS))


@pytest.mark.parametrize("target", TARGETS)
@fuzz(3)
@given(data=st.data())
async def test_Q_4_every_answer_at_its_schema_edges_neither_crashes_nor_loses_nor_blocks(
    target: str, data: st.DataObject
) -> None:
    plan = data.draw(plans(st.just(target)), label="plan")
    event(f"answer: {verdict(target, plan.payload)}")
    await checked(plan)
