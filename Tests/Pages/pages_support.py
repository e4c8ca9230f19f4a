"""What the alert-queue and radiology-review tests share besides the harness: the wrong-key setup
and screenshots small enough for the README."""
import os

import harness
from PIL import Image
from selenium.webdriver.common.by import By


def wrong_key_service(test, program, args, env=None):
    """`program serve` with an API key file, and a page in `test.driver` that saved a wrong key."""
    key = os.path.join(test.tmp, "key")
    with open(key, "w") as f:
        f.write("the-right-key-0123456789\n")
    os.chmod(key, 0o600)
    service = harness.Service(program, [*args, "--api-key-file", key], env=env)
    test.addCleanup(service.stop)
    test.open(service)
    test.driver.find_element(By.CSS_SELECTOR, '[data-testid="key-panel"] summary').click()
    test.driver.find_element(By.CSS_SELECTOR, '[data-testid="key-input"]').send_keys("a-wrong-key")
    test.driver.find_element(By.CSS_SELECTOR, '[data-testid="key-save"]').click()
    return service


def small_screenshot(driver, name):
    """`harness.screenshot`, and with --update-screenshots its copy in docs/screenshots/ reduced to
    a 128-colour palette (Pillow), so that a long page stays under the README's 300 KB."""
    update = os.environ.get("LEPTON_UPDATE_SCREENSHOTS")
    os.environ["LEPTON_UPDATE_SCREENSHOTS"] = "0"
    try:
        shot = harness.screenshot(driver, name)
    finally:
        os.environ["LEPTON_UPDATE_SCREENSHOTS"] = update or "0"
    if update != "1":
        return shot
    os.makedirs(harness.DOC_SHOTS, exist_ok=True)
    tmp = os.path.join(harness.DOC_SHOTS, f".{name}.png.tmp")
    with Image.open(shot) as full:
        small = full.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(tmp, format="PNG", optimize=True)
    got = os.path.getsize(tmp)
    if got >= harness.MAX_SHOT_BYTES:
        os.unlink(tmp)
        raise AssertionError(f"screenshot {name}.png is {got} bytes even with 128 colours, not under {harness.MAX_SHOT_BYTES}")
    os.replace(tmp, os.path.join(harness.DOC_SHOTS, name + ".png"))
    return shot
