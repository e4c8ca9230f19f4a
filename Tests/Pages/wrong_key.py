"""The wrong-key setup the alert-queue and radiology-review tests share."""
import os

import harness
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
