"""fundus_utils.__main__: the command line (``python -m fundus_utils prepare …``)."""

from __future__ import annotations

import json

from fundus_utils.__main__ import main as cli_main


def test_cli_prepare_json(zip_source, tmp_path, capsys):
    assert (
        cli_main(
            ["prepare", "--source", str(zip_source), "--workdir", str(tmp_path / "w"), "--json"]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in (
        "source_kind",
        "train_dir",
        "valid_dir",
        "labels_csv",
        "n_train",
        "n_train_pm",
        "n_valid",
        "n_valid_pm",
        "skipped",
    ):
        assert key in result
    assert (result["source_kind"], result["n_train"], result["n_valid_pm"]) == ("real", 9, 3)


def test_cli_bad_source_is_one_clear_message(tmp_path, capsys):
    code = cli_main(
        ["prepare", "--source", str(tmp_path / "absent"), "--workdir", str(tmp_path / "w")]
    )
    err = capsys.readouterr().err
    assert (
        code == 2
        and err.startswith("error: ")
        and "Traceback" not in err
        and str(tmp_path / "absent") in err
    )
