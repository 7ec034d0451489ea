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
