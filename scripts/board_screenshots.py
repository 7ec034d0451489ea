"""Screenshots of the class's runs as a class sees them: a dozen students' runs queued on the
Train tab, then the class board with all of them, in English and Chinese.

    python scripts/board_screenshots.py --data /path/to/cifar-10-python.tar.gz

Writes docs/train_queue.png, docs/class_board.png and docs/class_board_zh.png. The runs are small
(a few thousand pictures, one or two epochs) so that a dozen train in a few minutes on 2 cores.
"""

import argparse
import os
import sys
import time

from screenshot_support import CHROMIUM_ARGS, DOCS, ROOT  # noqa: F401 (sets up the import path)
from loopback_client import api_client

KEY = "the screenshot class's teacher key"
NAMES = ["Ann", "Bo", "Chen Jing", "Dara", "Eli", "Fang", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea"]
# What twelve students might try: width, depth, epochs and pictures, the learning rate
SETTINGS = [dict(alpha=0.25), dict(alpha=0.5), dict(alpha=0.25, epochs=2), dict(alpha=0.25),
            dict(alpha=0.25, depth="full"), dict(alpha=0.5, epochs=2), dict(alpha=0.25, learning_rate=0.003),
            dict(alpha=0.25), dict(alpha=0.75), dict(alpha=0.25, train_images=2000), dict(alpha=0.5),
            dict(alpha=0.25, epochs=2)]
BASE = {"variant": "cifar", "alpha": 0.25, "depth": "shallow", "train_images": 4000, "epochs": 1, "batch_size": 128,
        "learning_rate": 0.03, "augmentation": True, "preset": "classroom"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a CIFAR-10 archive or folder")
    args = parser.parse_args()
    import tempfile

    from playwright.sync_api import sync_playwright

    from classroom.settings import Settings
    from demo.ui import build_demo, close_app, launch_on_loopback

    demo = build_demo(runs_dir=tempfile.mkdtemp(prefix="board-shots-"), data_source=args.data,
                      settings=Settings(teacher_key=KEY, standby=True))
    url = launch_on_loopback(demo)
    try:
        demo.training_runs.load_data()
        teacher = api_client(url)
        teacher.predict(KEY, api_name="/teacher_sign_in")
        for seed, (name, settings) in enumerate(zip(NAMES, SETTINGS)):  # each their own draw
            api_client(url).predict(name=name, **{**BASE, **settings}, seed=seed, api_name="/start_training")
            if name == NAMES[0]:
                time.sleep(1)  # Ann's trains; the others wait their turn
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                                 args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(url + "?tab=train")
            page.locator("#queue-table").wait_for()
            page.wait_for_timeout(2500)
            page.screenshot(path=os.path.join(DOCS, "train_queue.png"), full_page=True)
            while teacher.predict(api_name="/run_queue")["waiting"] or demo.training_runs.current is not None:
                time.sleep(3)
            for lang, name in (("en", "class_board.png"), ("zh", "class_board_zh.png")):
                page.goto(f"{url}?tab=board&lang={lang}")
                page.locator("#board-table").wait_for()
                page.wait_for_timeout(4000)
                page.screenshot(path=os.path.join(DOCS, name), full_page=True)
            browser.close()
    finally:
        close_app(demo)
        demo.close()
    print("wrote", ", ".join(os.path.join("docs", n) for n in ("train_queue.png", "class_board.png",
                                                                 "class_board_zh.png")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
