import xml.etree.ElementTree as ET

from mobilenet.checkpoints import read_metadata
from mobilenet.report import confusion_svg, curves_svg, write_report

SVG = "{http://www.w3.org/2000/svg}"


def test_confusion_svg_has_a_cell_per_pair_with_its_count():
    matrix = [[(i * 10 + j) if i != j else 90 for j in range(10)] for i in range(10)]
    root = ET.fromstring(confusion_svg(matrix))
    cells = [r for r in root.iter(f"{SVG}rect") if r.get("stroke") == "#ddd"]
    assert len(cells) == 100
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "90" in texts and "37" in texts and "airplane" in texts


def test_curves_svg_draws_train_and_validation():
    history = [{"epoch": e, "loss": 2 / e, "accuracy": e / 10, "val_loss": 2.1 / e,
                "val_accuracy": e / 11} for e in range(1, 6)]
    root = ET.fromstring(curves_svg(history))
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 4 and all(len(line.get("points").split()) == 5 for line in lines)


def test_write_report_from_a_checkpoint(tiny_checkpoint, tmp_path):
    paths, summary = write_report(read_metadata(tiny_checkpoint), "tiny", str(tmp_path))
    assert [p.rsplit("/", 1)[1] for p in paths] == ["tiny_confusion.svg", "tiny_curves.svg"]
    assert "test accuracy:" in summary and "| airplane |" in summary
    assert "CPU cores" in summary


def test_report_of_a_gpu_run_with_weight_averaging(tiny_checkpoint, tmp_path):
    """A checkpoint trained on a GPU (the retired JAX script) and then averaged
    (the SWA phase of train(), swa_epochs): the summary says where each part ran, and the curves
    continue through the averaging epochs."""
    metadata = read_metadata(tiny_checkpoint)
    metadata["trained_on"] = {"device": "NVIDIA H200", "backend": "jax"}
    metadata["swa"] = {"epochs": 2, "learning_rate": 0.02, "training_seconds": 150.0,
                       "history": [{"epoch": e, "loss": 0.5, "accuracy": 0.9, "val_loss": 0.6,
                                    "val_accuracy": 0.85} for e in (1, 2)]}
    metadata["metrics"]["test_accuracy_float16_storage"] = 0.5
    metadata["training_seconds"] = 600 + 150  # the main run's and the averaging's
    paths, summary = write_report(metadata, "gpu", str(tmp_path))
    assert "training time: 10 min on one NVIDIA H200 GPU (jax backend)" in summary
    assert "weight averaging (SWA): 2 epochs at learning rate 0.02, 2 min" in summary
    assert "as stored (float16 weights restored to float32): 50.00 %" in summary
    root = ET.parse(paths[1]).getroot()
    main_epochs = len(metadata["history"])
    assert all(len(line.get("points").split()) == main_epochs + 2 for line in root.iter(f"{SVG}polyline"))
