from pathlib import Path

from appliance.signals import render_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "workflow.md"


def test_documented_signal_table_is_current():
    assert render_table() in DOC.read_text(), "regenerate the table in docs/workflow.md"
