"""The app's settings (``classroom.settings``): read once, every value checked, 0 a value like any
other, the defaults the README's table states, and nothing below the entry points reading the
environment."""

import dataclasses
import os
import re

import pytest

from classroom import settings
from classroom.settings import Settings
from test_cli import before_tensorflow
from test_readme import ROOT, settings_table

# Modules that may read the environment: the entry points, and the one module that reads what
# TensorFlow and Keras see before they load.
ENTRY_POINTS = {"app.py", "mobilenet/__main__.py", "mobilenet/bench.py"}
LIBRARY_ENVIRONMENT = {"mobilenet/runtime.py"}
READS_ENVIRONMENT = re.compile(r"\bos\.environ\b|\bos\.getenv\b|\bgetenv\(")

ENVIRONMENT = {
    "MOBILENET_CIFAR10": " /data/cifar-10-python.tar.gz ", "MOBILENET_TEACHER_KEY": "a key",
    "MOBILENET_MAX_RUN_MINUTES": "2.5", "MOBILENET_CHECKPOINT_DIR": "/srv/checkpoints",
    "MOBILENET_RUNS_DIR": "/srv/runs", "MOBILENET_KEEP_RUNS": "3", "MOBILENET_QUEUE_LENGTH": "0",
    "MOBILENET_QUEUE_MINUTES": "90", "MOBILENET_TRAIN_DEVICES": "2", "MOBILENET_STANDBY": "0",
    "MOBILENET_EXPORT_DIR": "/srv/export",
    "MOBILENET_MAX_WAITING_PER_SESSION": "4", "MOBILENET_MAX_WAITING_PER_ADDRESS": "120",
    "MOBILENET_MAX_CONNECTIONS_PER_ADDRESS": "300", "MOBILENET_UPLOADS_PER_MINUTE": "60",
    "MOBILENET_UPLOAD_MB_PER_MINUTE": "0.5", "MOBILENET_UPLOAD_BUDGET_MB": "1000",
    "MOBILENET_TRUSTED_PROXY": "yes", "MOBILENET_SSR": "True",
}


def test_every_variable_is_parsed_into_its_field():
    parsed = Settings.from_environ(ENVIRONMENT)
    assert parsed == Settings(
        cifar10="/data/cifar-10-python.tar.gz", teacher_key="a key", max_run_minutes=2.5,
        checkpoint_dir="/srv/checkpoints", runs_dir="/srv/runs", keep_runs=3, queue_length=0, queue_minutes=90, train_devices=2, standby=False, export_dir="/srv/export",
        max_waiting_per_session=4, max_waiting_per_address=120, max_connections_per_address=300,
        uploads_per_minute=60, upload_mb_per_minute=0.5, upload_budget_mb=1000, trusted_proxy=True, ssr=True)
    assert set(ENVIRONMENT) == set(settings.variables()), "a setting this test does not parse"
    assert parsed.upload_budget_bytes == 1_000_000_000 and parsed.connections_per_address is None


def test_unset_or_empty_variables_give_the_defaults():
    assert Settings.from_environ({}) == Settings() == settings.DEFAULTS
    assert Settings.from_environ({name: " " for name in settings.variables()}) == Settings()


def test_zero_is_a_value_like_any_other():
    zero = Settings.from_environ({"MOBILENET_KEEP_RUNS": "0", "MOBILENET_UPLOAD_BUDGET_MB": "0",
                                  "MOBILENET_TRUSTED_PROXY": "0", "MOBILENET_SSR": "off"})
    assert (zero.keep_runs, zero.upload_budget_mb, zero.trusted_proxy, zero.ssr) == (0, 0, False, False)
    assert Settings(keep_runs=0).keep_runs == 0


@pytest.mark.parametrize("variable, value, expected", [
    ("MOBILENET_KEEP_RUNS", "five", "a whole number, 0 or more"),
    ("MOBILENET_KEEP_RUNS", "-1", "a whole number, 0 or more"),
    ("MOBILENET_KEEP_RUNS", "2.5", "a whole number, 0 or more"),
    ("MOBILENET_MAX_WAITING_PER_SESSION", "0", "a whole number, 1 or more"),
    ("MOBILENET_UPLOADS_PER_MINUTE", "0", "a whole number, 1 or more"),
    ("MOBILENET_MAX_RUN_MINUTES", "0", "a number, more than 0"),
    ("MOBILENET_MAX_RUN_MINUTES", "nan", "a number, more than 0"),
    ("MOBILENET_UPLOAD_MB_PER_MINUTE", "inf", "a number, more than 0"),
    ("MOBILENET_UPLOAD_BUDGET_MB", "500MB", "a number, 0 or more"),
    ("MOBILENET_TRUSTED_PROXY", "maybe", "1 or 0"),
    ("MOBILENET_SSR", "2", "1 or 0"),
])
def test_a_bad_value_is_refused_naming_the_variable_and_the_value(variable, value, expected):
    with pytest.raises(ValueError) as refused:
        Settings.from_environ({variable: value})
    assert str(refused.value).startswith(f"{variable}={value!r}: expected {expected}")


def test_values_given_in_python_are_checked_too():
    with pytest.raises(ValueError, match=r"keep_runs must be a whole number, 0 or more "
                                         r"\(MOBILENET_KEEP_RUNS: received keep_runs=-1\)"):
        Settings(keep_runs=-1)
    with pytest.raises(ValueError, match="ssr must be True or False"):
        Settings(ssr="1")
    with pytest.raises(ValueError, match="runs_dir must be a string"):
        Settings(runs_dir=None)


def test_overrides_win_over_the_environment_unparsed():
    chosen = Settings.from_environ({"MOBILENET_KEEP_RUNS": "not read", "MOBILENET_SSR": "1"}, keep_runs=0)
    assert chosen.keep_runs == 0 and chosen.ssr
    with pytest.raises(TypeError):
        Settings.from_environ({}, no_such_setting=1)


def test_on_a_space_the_proxy_is_trusted_unless_said_otherwise():
    assert Settings.from_environ({"SPACE_ID": "teacher/mobilenet-lab"}).trusted_proxy
    said_otherwise = {"SPACE_ID": "teacher/mobilenet-lab", "MOBILENET_TRUSTED_PROXY": "0"}
    assert not Settings.from_environ(said_otherwise).trusted_proxy
    assert not Settings.from_environ({}).trusted_proxy


def test_the_defaults_are_the_readmes():
    table, checked = settings_table(), 0
    for field in dataclasses.fields(Settings):
        cell, default = table[field.metadata["variable"]], field.default
        if isinstance(default, bool):
            assert cell.startswith("off") != default, (field.name, cell)
        elif isinstance(default, (int, float)):
            assert float(re.match(r"[\d.]+", cell).group()) == default, (field.name, cell)
        elif default is None:  # a default described in words: a cache, a random key, a temp folder
            assert cell and not re.search(r"[\d`]", cell), (field.name, cell)
        else:
            path = re.fullmatch(r"`([^`]+)`", cell).group(1)
            assert os.path.join(ROOT, path) == os.path.join(default, ""), (field.name, cell)
        checked += 1
    assert checked == len(dataclasses.fields(Settings)) >= 15


def test_nothing_below_the_entry_points_reads_the_environment():
    readers = set()
    for folder in ("mobilenet", "classroom", "demo"):
        for parent, _, files in os.walk(os.path.join(ROOT, folder)):
            for name in files:
                path = os.path.join(parent, name)
                if name.endswith(".py") and READS_ENVIRONMENT.search(open(path, encoding="utf-8").read()):
                    readers.add(os.path.relpath(path, ROOT).replace(os.sep, "/"))
    assert readers - ENTRY_POINTS == LIBRARY_ENVIRONMENT, "read the environment in app.py (classroom.settings)"


def test_the_app_refuses_a_bad_value_before_it_starts():
    """``python app.py`` with a bad value: the message names the variable, in a fraction of a
    second (before TensorFlow and Gradio load)."""
    app = before_tensorflow(entry="import runpy; runpy.run_path('app.py', run_name='__main__')",
                            MOBILENET_KEEP_RUNS="-1", GRADIO_SERVER_PORT="1")  # a port it cannot open
    assert app.returncode == 2 and "Traceback" not in app.stderr, app.stderr
    assert app.stderr.strip().endswith("error: MOBILENET_KEEP_RUNS='-1': expected a whole number, 0 or more")
    assert not app.loaded, "TensorFlow, Keras or Gradio loaded before the settings were read"
