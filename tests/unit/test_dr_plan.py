"""The DR promotion plan: what a plan file may say, refused whole with the file, the step
and the known steps named; and every step a plan may name has its code."""

from __future__ import annotations

import pytest

from gameday.errors import InputError
from gameday.lab.dr import plan
from gameday.lab.dr.plan import Action, Step
from gameday.lab.dr.promote import KNOWN, STEPS


def test_the_shipped_plan_promotes_cache_and_store_restores_the_index_starts_the_api_switches_the_entry_then_resumes_the_stream():
    shipped = plan.load()
    assert shipped.steps == (Step(Action.PROMOTE, "cache"), Step(Action.PROMOTE, "store"), Step(Action.RESTORE, "index"), Step(Action.START, "api"),
                             Step(Action.SWITCH, "entry"), Step(Action.RESUME, "stream"))  # fmt: skip


def test_every_step_a_plan_may_name_has_its_code():
    assert set(STEPS) == KNOWN


@pytest.mark.parametrize("data, message", [
    ({"steps": [{"promote": "everything"}]}, r"plan.yaml, step 1: promote has no object 'everything'"),
    ({"steps": [{"promote": "cache"}, {"reboot": "api"}]}, r"plan.yaml, step 2: unknown action 'reboot'"),
    ({"steps": [{"promote": "cache"}, {"promote": "cache"}]}, r"step 2: promote cache is already step 1"),
    ({"steps": [{"promote": "cache", "start": "api"}]}, r"step 1: a step is one `action: object` pair"),
    ({"steps": []}, r"a mapping with one key, steps"),
    ({"stpes": [{"start": "api"}]}, r"a mapping with one key, steps"),
])  # fmt: skip
def test_a_plan_it_cannot_run_is_refused_naming_the_file_and_step(data, message):
    with pytest.raises(InputError, match=message) as err:
        plan.parse(data, "plan.yaml")
    assert err.value.hint and ("known steps" in err.value.hint or "shipped" in err.value.hint or "see" in err.value.hint)


def test_a_missing_plan_file_is_refused_naming_it(tmp_path):
    with pytest.raises(InputError, match=r"cannot read the DR promotion plan .*nope.yaml"):
        plan.load(tmp_path / "nope.yaml")
