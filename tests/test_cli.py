"""The command line, end to end, in real subprocesses."""

import os
import subprocess
import sys
import time

import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMANDS = ("summary", "train", "evaluate", "report", "predict", "export", "sweep", "publish-space")
# A user who set nothing: TensorFlow's logging left to the package's defaults (conftest sets 2).
PLAIN_ENV = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}


def cli(*args, env=None):
    return together([args], env=env)[0]


def plain_cli(*args, **env):
    return together([args], env=env, plain=True)[0]


def together(commands, env=None, plain=False):
    """Runs ``python -m mobilenet ARGS`` for each of ``commands`` at the same time (each loads
    TensorFlow on its own: the suite's two cores do two at once); their ``CompletedProcess``es.
    A command's last item may be a dict: variables for that command alone."""
    environ = {**(PLAIN_ENV if plain else os.environ), **(env or {})}
    commands = [(command[:-1], {**environ, **command[-1]}) if command and isinstance(command[-1], dict)
                else (command, environ) for command in commands]
    processes = [subprocess.Popen([sys.executable, "-m", "mobilenet", *args], cwd=ROOT, text=True, env=own,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for args, own in commands]
    results = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            raise
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


@pytest.mark.parametrize("command", ((), *((name,) for name in COMMANDS)), ids=lambda c: " ".join(c) or "top")
def test_help_is_quick_and_loads_no_tensorflow(command):
    started = time.monotonic()
    result = plain_cli(*command, "--help")
    elapsed = time.monotonic() - started
    assert result.returncode == 0 and result.stdout.startswith("usage: python -m mobilenet")
    assert result.stderr == ""
    assert elapsed < 3, f"--help took {elapsed:.1f} s"  # ~0.2 s on 2 idle cores; 3 for a loaded CI

    code = ("import sys; from mobilenet.__main__ import build_parser\n"
            f"try: build_parser().parse_args({[*command, '--help']!r})\n"
            "except SystemExit: pass\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'jax', 'numpy'}))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, text=True, capture_output=True,
                            timeout=60, env=PLAIN_ENV)
    assert loaded.stdout.splitlines()[-1] == "[]", loaded.stderr


def test_verbose_goes_before_or_after_the_command():
    from mobilenet.__main__ import build_parser

    parser = build_parser()
    assert parser.parse_args(["--verbose", "summary"]).verbose
    assert parser.parse_args(["summary", "--verbose"]).verbose
    assert not parser.parse_args(["summary"]).verbose


@pytest.mark.slow  # a subprocess that loads TensorFlow
def test_a_command_prints_no_tensorflow_notices_unless_asked():
    quiet, verbose, logged = together([("summary", "--alpha", "0.25"), ("summary", "--alpha", "0.25", "--verbose"),
                                       ("summary", "--alpha", "0.25", {"TF_CPP_MIN_LOG_LEVEL": "0"})], plain=True)
    assert quiet.returncode == 0 and "total params: " in quiet.stdout
    assert quiet.stderr == ""
    assert "I0000" not in quiet.stdout and "absl" not in quiet.stdout
    # TensorFlow 2.21's oneDNN notice, which no TF_CPP_MIN_LOG_LEVEL silences (mobilenet.notices).
    for loud in (verbose, logged):
        assert loud.returncode == 0 and "oneDNN custom operations are on" in loud.stderr


def test_held_back_drops_only_the_notices(capfd):
    from mobilenet.notices import held_back

    real = "E0000 00:00:1796574283.135721   27959 conv_ops.cc:52] a real error\n"
    with pytest.raises(KeyError), held_back():
        os.write(2, (
            "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
            "I0000 00:00:1796574266.646703   27617 port.cc:153] oneDNN custom operations are on. You "
            "may see slightly different numerical results due to floating-point round-off errors.\n"
            "I0000 00:00:1796574266.647062   27617 cudart_stub.cc:31] Could not find cuda drivers on "
            "your machine, GPU will not be used.\n"
            "E0000 00:00:1796574283.135721   27959 cuda_platform.cc:52] failed call to cuInit: "
            "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n"
            "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
            "fully_quantize: 0, inference_type: 6, input_inference_type: INT8, output_inference_type: INT8\n"
            + real).encode())
        raise KeyError("the block failed")  # its lines are still written
    assert capfd.readouterr().err == real


def test_a_publish_mistake_is_one_line_without_tensorflow():
    result = plain_cli("publish-space", "not a space", "--dry-run")
    assert result.returncode == 2 and result.stderr.startswith("error: the Space must be named OWNER/NAME")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.slow  # a subprocess that loads TensorFlow
def test_summary_prints_the_table_and_totals():
    paper, half, imagenet = (result.stdout for result in together([
        ("summary", "--variant", "paper"), ("summary", "--variant", "cifar", "--alpha", "0.5"),
        ("summary", "--input-size", "224", "--classes", "1000")]))
    assert "conv_dw_13_bn" in paper and "predictions" in paper
    assert "total params: 3,239,114" in paper and "mult-adds: 11,596,288" in paper
    assert "total params: 834,666" in half
    assert "total params: 4,253,864" in imagenet and "(568.7 M)" in imagenet


CLI = "from mobilenet.__main__ import main; status = main(sys.argv[1:])"


def before_tensorflow(*args, entry=CLI, **env):
    """``python -m mobilenet ARGS`` (or another ``entry``: the Python statement that runs one, ARGS
    in ``sys.argv[1:]``) for a mistake answered before TensorFlow starts: the ``CompletedProcess``,
    whose ``loaded`` says whether TensorFlow, Keras or Gradio was imported."""
    code = ("import sys\nstatus = 0\n"
            f"try: {entry}\n"
            "except SystemExit as exit: status = exit.code\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'gradio'}))\n"
            "sys.exit(status)")
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, text=True, capture_output=True,
                            timeout=60, env={**os.environ, **env})
    result.loaded = (result.stdout.splitlines() or [""])[-1] != "[]"  # its last line: the modules
    return result


def test_summary_rejects_bad_values_clearly_before_tensorflow_starts():
    result = before_tensorflow("summary", "--alpha", "0")
    assert result.returncode == 2 and "error: `alpha`" in result.stderr
    assert "Traceback" not in result.stderr and not result.loaded


@pytest.mark.slow  # trains in a subprocess
def test_train_evaluate_predict(tiny_cifar, tmp_path):
    out = str(tmp_path / "cli.keras")
    result = cli("train", "--data", tiny_cifar[0], "--alpha", "0.25", "--epochs", "1",
                 "--batch-size", "32", "--train-size", "all", "--validation-size", "50",
                 "--out", out)
    assert result.returncode == 0, result.stderr
    assert "epoch 1/1" in result.stdout and f"checkpoint: {out}" in result.stdout
    assert result.stderr == ""  # nothing from TensorFlow
    assert os.path.exists(out) and os.path.exists(out.replace(".keras", ".json"))

    image = tmp_path / "cat.png"
    Image.fromarray(tiny_cifar[2]["test_batch"][0][3]).save(image)
    garbage = tmp_path / "notes.png"
    garbage.write_text("not a picture")
    # evaluate with --data's default (the variable); predict beside it (both only read the checkpoint)
    evaluated, result = together([("evaluate", out), ("predict", str(image), str(garbage), "str-missing.png",
                                                       "--checkpoint", out, "--top-k", "2")],
                                 env={"MOBILENET_CIFAR10": tiny_cifar[1]})
    assert evaluated.returncode == 0, evaluated.stderr
    assert "test accuracy: " in evaluated.stdout and "confusion matrix" in evaluated.stdout
    assert all(name in evaluated.stdout for name in ("airplane", "truck"))

    assert result.returncode == 1 and result.stderr == ""  # nor LiteRT's XNNPACK notice
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{image}: ") and lines[0].count("%") == 2
    assert lines[1].startswith(f"{garbage}: error:") and "str-missing.png: error:" in lines[2]


@pytest.mark.slow  # trains in a subprocess
def test_train_a_recipe_with_overrides_end_to_end(tiny_cifar, tmp_path):
    """One command per shipped checkpoint (here shrunk to the tiny data by overrides)."""
    import json

    out = str(tmp_path / "recipe.keras")
    result = cli("train", "--recipe", "shipped-cifar", "--data", tiny_cifar[0], "--epochs", "1",
                 "--warmup-epochs", "0.5", "--swa-epochs", "1", "--train-size", "all",
                 "--validation-size", "20", "--batch-size", "32", "--alpha", "0.25", "--cutmix", "0.5",
                 "--out", out)
    assert result.returncode == 0, result.stderr
    assert "epoch 1/1" in result.stdout and "averaging epoch 1/1" in result.stdout
    with open(out.replace(".keras", ".json")) as f:
        meta = json.load(f)
    config = meta["train_config"]
    assert (config["epochs"], config["alpha"], config["swa_epochs"], config["batch_size"]) == (1, 0.25, 1, 32)
    assert (config["optimizer"], config["cutout"], config["swa_learning_rate"], config["ema"]) == \
        ("sgd", 8, 0.02, True)  # the recipe's
    assert meta["weights_dtype"] == "float16" and [h["epoch"] for h in meta["swa"]["history"]] == [1]
    assert config["cutmix"] == 0.5 and meta["metrics"]["validation_accuracy_tta"] is not None  # recipe's tta


def test_train_without_data_explains_how_to_get_it_before_tensorflow_starts(tmp_path):
    for folder in ("", "-empty"):  # a path that does not exist, a folder without CIFAR-10
        data = tmp_path / f"nothing-here{folder}"
        if folder:
            data.mkdir()
        result = before_tensorflow("train", "--data", str(data), "--epochs", "1",
                                   MOBILENET_CIFAR10=str(data))
        assert result.returncode == 2 and "MOBILENET_CIFAR10" in result.stderr and str(data) in result.stderr
        assert "Traceback" not in result.stderr and not result.loaded
    result = before_tensorflow("evaluate", "--data", str(data), MOBILENET_CIFAR10="")  # the shipped checkpoint
    assert result.returncode == 2 and "No CIFAR-10 found in folder" in result.stderr and not result.loaded


def test_a_missing_checkpoint_is_a_clear_error_before_tensorflow_starts(tmp_path):
    for command in (("evaluate", str(tmp_path / "none.keras")), ("report", str(tmp_path / "none.keras")),
                    ("export", str(tmp_path / "none.keras")),
                    ("predict", "cat.png", "--checkpoint", str(tmp_path / "none.keras"))):
        result = before_tensorflow(*command)
        assert result.returncode == 2, (command, result.stderr)
        assert "none.keras" in result.stderr and "not found" in result.stderr and not result.loaded, command


def test_a_bad_training_setting_is_refused_before_tensorflow_starts(tiny_cifar, tmp_path):
    for command, message in ((("train", "--cutmix", "2"), "`cutmix` must be a number from 0 (off) to 1"),
                             (("sweep", "--epochs", "0"), "`epochs` must be a positive integer")):
        result = before_tensorflow(*command, "--data", tiny_cifar[1], "--out", str(tmp_path / "refused"))
        assert result.returncode == 2 and message in result.stderr and not result.loaded, result.stderr
    assert not (tmp_path / "refused").exists()


def test_every_expected_error_name_is_a_real_exception_class():
    """The CLI names its user-facing errors as strings (importing them would load TensorFlow);
    a class that moves to another module must move here too, or its message becomes a traceback."""
    import importlib

    from mobilenet.__main__ import EXPECTED_ERRORS

    for name in EXPECTED_ERRORS:
        module, _, qualname = name.rpartition(".")
        kind = getattr(importlib.import_module(module), qualname, None)
        assert isinstance(kind, type) and issubclass(kind, Exception), name
        assert f"{kind.__module__}.{kind.__qualname__}" == name, (name, kind)
