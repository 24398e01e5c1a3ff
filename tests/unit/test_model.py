"""The text model learns, saves with skops and loads back to the same predictions."""

from detectors.model import TextModel, load_model, train
from streams.generate import generate_ads


def test_train_save_load_predicts_the_same(tmp_path):
    corpus = list(generate_ads(1500, seed=3, difficulty="hard", images=False))
    model = train(corpus)
    assert model.metadata["held_out"]["pr_auc"] > 0.8
    path = tmp_path / "m.skops"
    model.save(path)
    loaded = load_model(path)
    texts = ["new girl in town ask for my manager", "oak dining table, six chairs"]
    assert list(loaded.predict_proba(texts)) == list(model.predict_proba(texts))
    assert loaded.metadata["version"] == model.metadata["version"]


def test_predict_one_is_a_probability():
    model = TextModel().fit(["fresh young new girl manager"] * 10 + ["blue sofa for sale"] * 10,
                            [1] * 10 + [0] * 10)
    p = model.predict_proba_one("sofa", "blue sofa for sale, pickup only")
    assert 0.0 <= p < 0.5
