"""``rnnlab generate``: the requested length, only vocabulary characters, deterministic per seed, errors."""

import json

import pytest

from rnnlab.cli.main import main

TEXT = "".join(f"{w} to be or not to be, that is the question.\n" for w in ("HAMLET:", "OPHELIA:") * 40)


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("generate")
    data = tmp / "text.txt"
    data.write_text(TEXT, encoding="utf-8")
    assert main(["train", "--task", "chars", "--cell", "lstm", "--data", str(data), "--units", "12", "--length", "16",
                 "--epochs", "1", "--batch-size", "16", "--out", str(tmp / "run"), "--quiet"]) == 0
    return tmp / "run" / "model.rnnlab"


def generate(capsys, model_path, *flags):
    assert main(["generate", str(model_path), "--json", *flags]) == 0
    return last_json(capsys)


def test_length_vocabulary_and_determinism(model_path, capsys):
    a = generate(capsys, model_path, "--length", "120", "--seed", "3", "--prime", "HAMLET:")
    assert len(a["text"]) == 120 and set(a["text"]) <= set(TEXT)
    assert a["prime"] == "HAMLET:" and a["temperature"] == 0.8
    b = generate(capsys, model_path, "--length", "120", "--seed", "3", "--prime", "HAMLET:")
    assert b["text"] == a["text"]
    c = generate(capsys, model_path, "--length", "120", "--seed", "4", "--prime", "HAMLET:", "--temperature", "1.5")
    assert c["text"] != a["text"]
    greedy = [generate(capsys, model_path, "--length", "30", "--seed", s, "--temperature", "0")["text"] for s in "12"]
    assert greedy[0] == greedy[1] and len(greedy[0]) == 30
    assert generate(capsys, model_path, "--length", "0")["text"] == ""


def test_clear_errors(model_path, tmp_path, capsys):
    assert main(["generate", str(model_path), "--prime", "ZZZ~"]) == 1
    err = capsys.readouterr().err
    assert "never saw" in err and "'Z'" in err and "'~'" in err
    assert main(["generate", str(model_path), "--temperature", "-1"]) == 1
    assert "--temperature must be >= 0" in capsys.readouterr().err
    assert main(["generate", str(model_path), "--length", "-5"]) == 1
    assert "--length must be >= 0" in capsys.readouterr().err
    assert main(["generate", str(tmp_path / "missing.rnnlab")]) == 1
    assert "missing.rnnlab" in capsys.readouterr().err
    out = tmp_path / "adding"
    assert main(["train", "--task", "adding", "--length", "5", "--train-size", "16", "--test-size", "8", "--units", "4",
                 "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["generate", str(out / "model.rnnlab")]) == 1
    assert "is not a character-level model (task 'adding')" in capsys.readouterr().err


def test_help_lists_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for flag in ("--length", "--temperature", "--seed", "--prime", "--json"):
        assert flag in help_text
