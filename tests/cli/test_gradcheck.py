"""``rnnlab gradcheck`` runs every cell's check and reports agreement."""

import json

from rnnlab.cli.main import main


def test_gradcheck_reports_every_cell_within_tolerance(capsys):
    assert main(["gradcheck", "--steps", "4", "--units", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["ok"] is True
    assert len(result["max_relative_error"]) == 6
    assert max(result["max_relative_error"].values()) < 1e-6
