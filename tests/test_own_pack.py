"""A user's own rule pack, for a plan geoplan's indicator table does not hold."""

from geoplan.plans.packs import pack_from_mapping
from geoplan.workflows.plan_check import compute_checks
from geoplan.workflows.project import DEMO_PROJECT


def test_a_pack_of_a_plan_outside_the_indicator_table(plan_indicators):
    """Failed before (KeyError: 'plan_file' dropped from an empty indicator frame)."""
    pack = pack_from_mapping(
        {
            "pack": {"id": "own", "plan_file": "my_county_plan.txt"},
            "ratios": [
                {
                    "id": "beds",
                    "numerator": "beds",
                    "target": 1,
                    "kind": "预期性",
                    "source": {"line": 1, "quote": "q"},
                }
            ],
        }
    )
    result = compute_checks(DEMO_PROJECT, pack)
    assert len(result.indicators) == 0
    assert result.summary["indicators"]["rows"] == 0
    assert set(result.checks["rule_id"]) == {"beds"}
