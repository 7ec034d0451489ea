"""The Train panel's presets: the classroom run and the quick run (``mobilenet.recipes``), picked
on the page or by URL (``?preset=quick``), and what Start trains with each."""

import dataclasses

import pytest

from browser_support import browser_page, needs_chromium
from classroom.class_queue import Started
from mobilenet.recipes import APP_PRESETS, RECIPES
from mobilenet.train import fit_to_data
from test_train_tab_text import tab  # noqa: F401 (the Train tab built in a page of its own)


def test_the_presets_are_recipes_and_the_quick_run_is_about_a_third_of_the_classroom_run():
    assert APP_PRESETS[0] == "classroom" and set(APP_PRESETS) <= set(RECIPES)

    def images_seen(name):
        config = fit_to_data(RECIPES[name], 50_000)
        return config.epochs * (config.train_size or 50_000 - config.validation_size)

    assert 0.2 < images_seen("quick") / images_seen("classroom") < 0.4
    for name in APP_PRESETS:
        RECIPES[name].validate(50_000)


@pytest.mark.parametrize("preset", APP_PRESETS)
def test_start_trains_the_presets_recipe_with_the_panels_settings(tab, monkeypatch, preset):
    started = []
    monkeypatch.setattr(tab.ctx.queue, "submit", lambda spec, *args, **kwargs: started.append(spec) or Started(1))
    values = tab.preset_values(preset)
    assert list(values) == tab.preset_settings  # by name, every setting the panel shows
    settings = {name: values[getattr(tab, name)] for name in ["train_images", "epochs", "variant", "alpha", "depth",
                                                              "batch_size", "learning_rate", "augmentation"]}
    tab.start_training("Ann", settings["variant"], settings["alpha"], settings["depth"], settings["train_images"],
                       settings["epochs"], settings["batch_size"], settings["learning_rate"],
                       settings["augmentation"], preset, None, False, "en")
    recipe = RECIPES[preset]
    expected = dataclasses.replace(recipe, train_size=recipe.train_size or 50_000)
    # what the panel does not show (smoothing, TTA…) from the recipe, named with the server's devices
    assert [spec.config() for spec in started] == [expected]
    assert (started[0].recipe, started[0].devices) == (preset, tab.ctx.settings.train_devices)
    # a changed setting still counts; an unknown preset (a hand-made request) is the classroom run
    tab.start_training("Ann", "paper", 0.5, "full", 1000, 3, 64, 0.01, True, "no-such-preset", None, False, "en")
    assert started[-1].recipe == "classroom" and started[-1].config() == dataclasses.replace(
        RECIPES["classroom"], variant="paper", alpha=0.5, depth="full", train_size=1000, epochs=3, batch_size=64,
        learning_rate=0.01, augmentation=True)
    # a seed of the student's own: the same settings, another draw (None: the recipe's)
    tab.start_training("Ann", "paper", 0.5, "full", 1000, 3, 64, 0.01, True, preset, 7, False, "en")
    assert started[-1].config().seed == 7 and started[-2].config().seed == RECIPES["classroom"].seed


@needs_chromium
def test_preset_quick_in_the_url_fills_the_panel_and_the_classroom_preset_fills_it_back(shared_app):
    from playwright.sync_api import expect

    quick, classroom = (fit_to_data(RECIPES[name], 50_000) for name in ("quick", "classroom"))
    with browser_page(shared_app[0] + "?tab=train&preset=quick") as page:
        expect(page.locator("#train-preset input[value=quick]")).to_be_checked()
        expect(page.locator("#train-epochs input[type=number]")).to_have_value(str(quick.epochs))
        expect(page.locator("#train-images input[type=number]")).to_have_value(str(quick.train_size))
        page.locator("#train-preset label", has_text="Classroom").click()
        expect(page.locator("#train-epochs input[type=number]")).to_have_value(str(classroom.epochs))
        expect(page.locator("#train-images input[type=number]")).to_have_value(str(classroom.train_size or 50_000))
