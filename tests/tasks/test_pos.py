"""The POS task: features, a tiny end-to-end training through the CLI, tagging, and its errors."""

import json

import numpy as np
import pytest

from rnnlab.cli.main import main
from rnnlab.data import Sentence
from rnnlab.tasks import pos

CONLLU = """# sent_id = 1
1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_
2\tclouds\tcloud\tNOUN\tNNS\t_\t3\tnsubj\t_\t_
3\tare\tbe\tAUX\tVBP\t_\t0\troot\t_\t_
4\tin\tin\tADP\tIN\t_\t6\tcase\t_\t_
5\tthe\tthe\tDET\tDT\t_\t6\tdet\t_\t_
6\tsky\tsky\tNOUN\tNN\t_\t3\tobl\t_\t_
7\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_

1\tBirds\tbird\tNOUN\tNNS\t_\t2\tnsubj\t_\t_
2\tfly\tfly\tVERB\tVBP\t_\t0\troot\t_\t_
3\tin\tin\tADP\tIN\t_\t5\tcase\t_\t_
4\tthe\tthe\tDET\tDT\t_\t5\tdet\t_\t_
5\tsky\tsky\tNOUN\tNN\t_\t2\tobl\t_\t_
6\t.\t.\tPUNCT\t.\t_\t2\tpunct\t_\t_

"""


def test_word_features():
    assert pos.shape("Hello") == "Xx" and pos.shape("U.S.") == "X.X." and pos.shape("1990s") == "dx"
    assert pos.normalise("Route66") == "route00"
    assert pos.token_features("Walking") == ("walking", "g", "ng", "ing", "king", "w", "wa", "Xx")


def test_featurizer_round_trip_and_unknown_words():
    sents = [Sentence(["The", "sky", "is", "blue", "."], ["DET", "NOUN", "AUX", "ADJ", "PUNCT"])] * 2
    feat = pos.Featurizer.build(sents)
    clone = pos.Featurizer.from_dict(json.loads(json.dumps(feat.to_dict())))
    ids = clone.encode_words(["The", "zebra"])
    assert ids.shape == (2, len(pos.FEATURES))
    assert ids[1, 0] == 1  # an unseen word is <unk>; its character features still say something
    np.testing.assert_array_equal(ids, feat.encode_words(["The", "zebra"]))


def test_train_evaluate_and_tag_on_a_tiny_treebank(tmp_path, capsys):
    data = tmp_path / "tiny.conllu"
    data.write_text(CONLLU * 20, encoding="utf-8")
    out = tmp_path / "run"
    args = ["train", "--task", "pos", "--train", str(data), "--dev", str(data), "--test", str(data), "--units", "8",
            "--layers", "1", "--epochs", "8", "--lr", "0.02", "--quiet", "--out", str(out), "--json"]
    assert main(args) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["test_accuracy"] > 0.9
    assert main(["evaluate", str(out / "model.rnnlab"), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert evaluated["accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert main(["tag", str(out / "model.rnnlab"), "The clouds are in the sky .", "--json"]) == 0
    tagged = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["sentences"][0]
    assert [t["tag"] for t in tagged] == ["DET", "NOUN", "AUX", "ADP", "DET", "NOUN", "PUNCT"]


def test_clear_errors(tmp_path, capsys):
    assert main(["train", "--task", "pos", "--dev", "x.conllu", "--out", str(tmp_path)]) == 1
    assert "also give --train" in capsys.readouterr().err
    assert main(["train", "--task", "pos", "--train", str(tmp_path / "none.conllu"), "--out", str(tmp_path)]) == 1
    assert "none.conllu" in capsys.readouterr().err
