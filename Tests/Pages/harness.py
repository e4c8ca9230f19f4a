"""What the browser tests of the web consoles share (Python unittest, Selenium, headless Chromium).

- `Service`: a built service (`.build/release/lepton-X serve --port 0 ...`) as a child process;
  ready once its `listening on http://HOST:PORT` line is on stderr (bounded wait); `stop()` sends
  SIGTERM, then kills after 10 s.
- `make_driver(size)`: headless Chromium (Debian's `chromium` and `chromium-driver`, paths given, so
  Selenium Manager never reaches for the network), `DESKTOP` or `NARROW` (390 x 844) window.
- `wait_for(driver, testid, timeout)`, `wait_until(...)`, `console_errors(driver)` (level SEVERE),
  `screenshot(driver, name)` (into $LEPTON_PAGES_DIR, default /tmp/lepton-pages; with
  `--update-screenshots` or LEPTON_UPDATE_SCREENSHOTS=1 also docs/screenshots/NAME.png, refused
  at 300 KB or more), `call(base, path, ...)`: the same JSON route called with urllib, the
  reference a page's values are compared with, and `unlabelled_controls` / `tab_stops` for the
  keyboard checks.

Run through scripts/page-test.sh (which builds the programs when they are missing).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

# Selenium Manager must not look for drivers online (the machine is offline; the paths are given).
os.environ.setdefault("SE_OFFLINE", "true")
os.environ.setdefault("SE_AVOID_STATS", "true")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service as DriverService  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("LEPTON_BIN", os.path.join(ROOT, ".build", "release"))
SHOTS = os.environ.get("LEPTON_PAGES_DIR", "/tmp/lepton-pages")
DOC_SHOTS = os.path.join(ROOT, "docs", "screenshots")
MAX_SHOT_BYTES = 300 * 1024
CHROMIUM = os.environ.get("LEPTON_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LEPTON_CHROMEDRIVER", "/usr/bin/chromedriver")

DESKTOP = (1280, 900)
NARROW = (390, 844)

if "--update-screenshots" in sys.argv:
    sys.argv.remove("--update-screenshots")
    os.environ["LEPTON_UPDATE_SCREENSHOTS"] = "1"


def path(*parts):
    """A path inside the repository."""
    return os.path.join(ROOT, *parts)


class Service:
    """`BIN/program serve ARGS --port 0`, ready when it prints its `listening on` line."""

    def __init__(self, program, args=(), env=None, timeout=180):
        self.program = program
        self.lines = []
        self._lock = threading.Lock()
        exe = os.path.join(BIN, program)
        if not os.access(exe, os.X_OK):
            raise unittest.SkipTest(f"{exe} is not built (scripts/page-test.sh builds it)")
        self.process = subprocess.Popen([exe, "serve", *args, "--port", "0"], cwd=ROOT,
                                        env={**os.environ, **(env or {})},
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.base = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = next((l for l in self.lines if "listening on http://" in l), None)
            if found:
                m = re.search(r"listening on (http://[^\s\"]+)", found)
                self.base = m.group(1).rstrip("/")
                return
            if self.process.poll() is not None:
                time.sleep(0.2)
                raise RuntimeError(f"{program} serve exited ({self.process.returncode}) before it was ready:\n"
                                   + "\n".join(self.log()[-10:]))
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{program} serve printed no `listening on` line within {timeout} s:\n" + "\n".join(self.log()[-10:]))

    def _read(self):
        for raw in self.process.stderr:
            with self._lock:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def log(self):
        with self._lock:
            return list(self.lines)

    def stop(self):
        """SIGTERM, then SIGKILL after 10 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._reader.join(timeout=5)


def make_driver(size=DESKTOP):
    """Headless Chromium with its browser log kept (for `console_errors`)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=en-US",
                "--no-first-run", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--window-size={size[0]},{size[1]}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=DriverService(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


def by_testid(driver, testid):
    """The elements carrying `data-testid=testid`."""
    return driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')


def wait_until(driver, condition, timeout=30, message="condition"):
    """`condition(driver)`'s first truthy value, polled until `timeout` seconds."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d))
    except TimeoutException:
        raise AssertionError(f"timed out after {timeout} s waiting for {message}; page error box: "
                             f"{error_text(driver)!r}") from None


def wait_for(driver, testid, timeout=30, text=True):
    """The first displayed element with `data-testid=testid` (with text in it when `text`)."""
    def ready(d):
        for e in by_testid(d, testid):
            if e.is_displayed() and (not text or e.text.strip()):
                return e
        return None
    return wait_until(driver, ready, timeout, f'data-testid="{testid}"' + (" with text" if text else ""))


def error_text(driver):
    """The shared error box's text ('' when hidden)."""
    try:
        boxes = [e for e in by_testid(driver, "error") if e.is_displayed()]
        return boxes[0].text if boxes else ""
    except Exception:  # noqa: BLE001 - only used in failure messages
        return ""


def console_errors(driver, allow_http_errors=False):
    """The browser log's SEVERE entries. `allow_http_errors`: leave out Chromium's own line for a
    4xx/5xx answer ("Failed to load resource: the server responded with a status of N"), which a
    test of an error path provokes on purpose."""
    entries = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    if allow_http_errors:
        entries = [e for e in entries if "the server responded with a status of" not in e.get("message", "")]
    return entries


def screenshot(driver, name, full_page=True):
    """Saves the page as SHOTS/NAME.png (the whole page's height when `full_page`); with
    --update-screenshots also as docs/screenshots/NAME.png, after checking it is under 300 KB."""
    os.makedirs(SHOTS, exist_ok=True)
    target = os.path.join(SHOTS, name + ".png")
    size = driver.get_window_size()
    if full_page:
        height = driver.execute_script("return Math.ceil(document.documentElement.scrollHeight)")
        driver.set_window_size(size["width"], max(size["height"], min(int(height) + 140, 4000)))
    try:
        driver.save_screenshot(target)
    finally:
        if full_page:
            driver.set_window_size(size["width"], size["height"])
    if os.environ.get("LEPTON_UPDATE_SCREENSHOTS") == "1":
        got = os.path.getsize(target)
        if got >= MAX_SHOT_BYTES:
            raise AssertionError(f"screenshot {name}.png is {got} bytes, not under {MAX_SHOT_BYTES}: not copied")
        os.makedirs(DOC_SHOTS, exist_ok=True)
        tmp = os.path.join(DOC_SHOTS, f".{name}.png.tmp")
        shutil.copyfile(target, tmp)
        os.replace(tmp, os.path.join(DOC_SHOTS, name + ".png"))
    return target


def call(base, route, method="GET", body=None, headers=None, key=None, timeout=120):
    """The route's answer through urllib (an independent client): (status, parsed JSON or bytes)."""
    data = body
    hdrs = dict(headers or {})
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    if key:
        hdrs["Authorization"] = "Bearer " + key
    request = urllib.request.Request(base + route, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            status, raw, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, raw, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
    if ctype.startswith("application/json"):
        return status, json.loads(raw)
    return status, raw


def unlabelled_controls(driver):
    """Descriptions of the visible form controls and buttons without an accessible name (a
    `<label for>`, a wrapping `<label>`, `aria-label`, `aria-labelledby`, or a button's text)."""
    return driver.execute_script("""
        const out = [];
        for (const c of document.querySelectorAll('input, select, textarea, button, summary, [role="button"]')) {
          if (c.type === 'hidden' || c.hidden || c.getClientRects().length === 0) continue;
          let name = (c.getAttribute('aria-label') || '').trim();
          const by = c.getAttribute('aria-labelledby');
          if (!name && by) name = by.split(/\\s+/).map(id => (document.getElementById(id) || {}).textContent || '').join(' ').trim();
          if (!name && c.labels) name = Array.from(c.labels).map(l => l.textContent).join(' ').trim();
          if (!name && (c.tagName === 'BUTTON' || c.tagName === 'SUMMARY' || c.getAttribute('role') === 'button')) name = c.textContent.trim();
          if (!name) out.push(c.outerHTML.slice(0, 120));
        }
        return out;""")


def tab_stops(driver, limit=80):
    """What Tab reaches from the top of the page, in order: each focused element's data-testid
    (or id, or tag), until focus comes round again or `limit` presses."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    # Focus on the body itself: the next Tab goes to the page's first control.
    driver.execute_script("window.scrollTo(0, 0); document.body.tabIndex = -1; document.body.focus();")
    seen = []
    for _ in range(limit):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        name = driver.execute_script("""
            const e = document.activeElement;
            if (!e || e === document.body) return null;
            return e.getAttribute('data-testid') || e.id || e.tagName.toLowerCase();""")
        if name is None or (seen and name == seen[0]):
            break
        seen.append(name)
    return seen


class PageCase(unittest.TestCase):
    """A test case with a fresh browser per test (`self.driver`, desktop size), quit afterwards,
    and a private temporary folder (`self.tmp`)."""

    size = DESKTOP

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lepton-pages-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.driver = make_driver(self.size)
        self.addCleanup(self.driver.quit)

    def open(self, service, route="/"):
        self.driver.get(service.base + route)
        wait_until(self.driver, lambda d: d.execute_script("return document.readyState") == "complete"
                   and d.execute_script("return typeof window.Lepton") == "object", 30, "the page and lepton.js")

    def assertNoConsoleErrors(self, allow_http_errors=False):
        errors = console_errors(self.driver, allow_http_errors)
        self.assertEqual(errors, [], "browser console errors")
