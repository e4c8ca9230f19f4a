#!/usr/bin/env python3
"""The radiology review of `lepton-diagnose serve` in headless Chromium.

What the page shows is checked against independent references for the same files: the JSON route
(`POST /v1/analyze`: probabilities, findings with status and evidence, the suggestion), the
sample's own size read by Pillow (the heatmap at the scan's resolution), the overlay `analyze
--heatmap` writes (the page's layers blended at the slider's start, by Pillow), and the route's
FHIR bundle (the download). A DICOM study whose header names a patient shows no name or id. Then
the error paths: a corrupt scan shows the service's error; a wrong API key shows "not authorised".
"""
import base64
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from pages_support import small_screenshot, wrong_key_service  # noqa: E402
from PIL import Image  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

ROOT = harness.ROOT
STUDIES = os.path.join(ROOT, "samples/diagnose/studies")
SALT = {"LEPTON_DIAGNOSE_SALT": "page-tests-salt"}


def form(parts):
    """A multipart/form-data body of (name, path) parts, as a browser sends the file inputs."""
    boundary = uuid.uuid4().hex
    body = b""
    for name, path in parts:
        with open(path, "rb") as f:
            data = f.read()
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{os.path.basename(path)}\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def data_url_image(url):
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix), url[:40]
    return Image.open(io.BytesIO(base64.b64decode(url[len(prefix):]))).convert("RGB")


class RadiologyReviewTest(harness.PageCase):
    @classmethod
    def setUpClass(cls):
        cls.service = harness.Service("lepton-diagnose", [], env=SALT)

    @classmethod
    def tearDownClass(cls):
        cls.service.stop()

    def analyze_route(self, parts, query=""):
        body, headers = form(parts)
        return harness.call(self.service.base, "/v1/analyze" + query, "POST", body, headers)

    def upload(self, scan=None, report=None):
        self.open(self.service)
        if scan:
            self.driver.find_element(By.CSS_SELECTOR, '[data-testid="scan-input"]').send_keys(scan)
        if report:
            self.driver.find_element(By.CSS_SELECTOR, '[data-testid="report-input"]').send_keys(report)
        self.driver.find_element(By.CSS_SELECTOR, '[data-testid="analyze"]').click()

    def wait_for_result(self):
        harness.wait_for(self.driver, "suggestion-summary", 60)

    def assert_shows(self, reference):
        d = self.driver
        # Probabilities: each class with its value to three places.
        shown = {tr.get_attribute("data-class"): tr.text for tr in d.find_elements(By.CSS_SELECTOR, '[data-testid="probability"]')}
        self.assertEqual(set(shown), set(reference["image"].get("probabilities", {})))
        for name, p in reference["image"].get("probabilities", {}).items():
            self.assertIn(f"{p:.3f}", shown[name])
        # One finding per finding the report mentions: name, status (as text, not only colour), evidence.
        findings = d.find_elements(By.CSS_SELECTOR, '[data-testid="finding"]')
        mentioned = [f for f in reference["report"]["findings"] if f["mentioned"]]
        self.assertEqual(len(findings), len(mentioned))
        self.assertGreater(len(mentioned), 0)
        for li, f in zip(findings, mentioned):
            self.assertEqual(li.get_attribute("data-finding"), f["finding"])
            self.assertEqual(li.find_element(By.CSS_SELECTOR, ".status").text.lower(), f["status"])
            self.assertEqual(li.find_element(By.TAG_NAME, "mark").text, f["evidence"])
        # The suggestion with its agreements and disagreements, and the decision-support wording.
        suggestion = d.find_element(By.CSS_SELECTOR, '[data-testid="suggestion"]')
        self.assertEqual(suggestion.find_element(By.CSS_SELECTOR, '[data-testid="suggestion-summary"]').text, reference["suggestion"]["summary"])
        for kind in ("agreements", "disagreements"):
            items = [li.text for li in suggestion.find_elements(By.CSS_SELECTOR, f'[data-testid="{kind}"] li')]
            self.assertEqual(items, reference["suggestion"][kind])
        self.assertIn("decision support, not a diagnosis", suggestion.text.lower())

    def assert_report_marked(self, reference, report_file):
        """The whole report is shown, each mentioned finding's evidence sentence marked in it by status."""
        import re
        box = self.driver.find_element(By.CSS_SELECTOR, '[data-testid="report-text"]')
        shown = " ".join(box.get_attribute("textContent").split())
        # Independent of the service: every sentence of the file (section labels aside) is on the page.
        with open(report_file, encoding="utf-8") as f:
            body = re.sub(r"\b[A-Z]{3,}:\s*", " ", f.read())
        sentences = [x.strip() for x in re.split(r"(?<=\.)\s*", body) if x.strip()]
        self.assertGreater(len(sentences), 2)
        for sentence in sentences:
            self.assertIn(" ".join(sentence.split()), shown)
        marks = {m.get_attribute("data-finding"): m for m in box.find_elements(By.TAG_NAME, "mark")}
        mentioned = [f for f in reference["report"]["findings"] if f["mentioned"] and f["evidence"]]
        self.assertEqual(set(marks), {f["finding"] for f in mentioned})
        for f in mentioned:
            self.assertEqual(marks[f["finding"]].text, f["evidence"])
            self.assertIn(f["status"], marks[f["finding"]].get_attribute("class").split())

    def test_1_png_study(self):
        scan, report = os.path.join(STUDIES, "case3.png"), os.path.join(STUDIES, "case3.txt")
        self.upload(scan, report)
        self.wait_for_result()
        status, reference = self.analyze_route([("scan", scan), ("report", report)])
        self.assertEqual(status, 200, reference)
        self.assert_shows(reference)
        self.assert_report_marked(reference, report)

        # The heatmap at the scan's own resolution (Pillow reads the sample).
        d = self.driver
        heatmap = d.find_element(By.CSS_SELECTOR, 'img[data-testid="heatmap"]')
        size = d.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", heatmap)
        with Image.open(scan) as sample:
            self.assertEqual(tuple(size), sample.size)
        # The page's layers blended at the slider's start are the overlay `analyze --heatmap` writes.
        opacity = int(d.find_element(By.CSS_SELECTOR, '[data-testid="opacity"]').get_attribute("value")) / 100
        base = data_url_image(d.find_element(By.CSS_SELECTOR, '[data-testid="scan-image"]').get_attribute("src"))
        layer = data_url_image(heatmap.get_attribute("src"))
        with tempfile.TemporaryDirectory() as tmp:
            cam = os.path.join(tmp, "cam.png")
            subprocess.run([os.path.join(harness.BIN, "lepton-diagnose"), "analyze", scan, "--heatmap", cam, "-q"], env={**os.environ, **SALT},
                           check=True, capture_output=True)
            with Image.open(cam) as written:
                overlay = written.convert("RGB")
        blended = Image.blend(base, layer, opacity)
        self.assertEqual(blended.size, overlay.size)
        worst = max(abs(a - b) for a, b in zip(blended.tobytes(), overlay.tobytes()))
        self.assertLessEqual(worst, 2, "the page's overlay differs from analyze --heatmap")
        # The slider is labelled and moves the heatmap's opacity.
        self.assertTrue(d.find_element(By.CSS_SELECTOR, 'label[for="opacity"]').text)
        d.execute_script("const s = arguments[0]; s.value = '80'; s.dispatchEvent(new Event('input'));",
                         d.find_element(By.CSS_SELECTOR, '[data-testid="opacity"]'))
        self.assertEqual(heatmap.value_of_css_property("opacity"), "0.8")
        d.execute_script("const s = arguments[0]; s.value = '45'; s.dispatchEvent(new Event('input'));",
                         d.find_element(By.CSS_SELECTOR, '[data-testid="opacity"]'))

        # The downloads are the route's answers for the same files (JSON, and FHIR with ?format=fhir).
        d.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": self.tmp})
        for testid, name, query in (("download-json", "study.json", ""), ("download-fhir", "study-fhir.json", "?format=fhir")):
            d.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]').click()
            path = os.path.join(self.tmp, name)
            harness.wait_until(d, lambda _: os.path.exists(path) and os.path.getsize(path) > 0, 30, f"the download {name}")
            status, answer = self.analyze_route([("scan", scan), ("report", report)], query)
            self.assertEqual(status, 200)
            with open(path, "rb") as f:
                self.assertEqual(json.load(f), answer if isinstance(answer, dict) else json.loads(answer))
        self.assertNoConsoleErrors()
        self.assertEqual(harness.unlabelled_controls(d), [])
        small_screenshot(d, "radiology-review")

    def test_2_dicom_with_a_patient_name(self):
        scan, report = os.path.join(STUDIES, "case4.dcm"), os.path.join(STUDIES, "case4.txt")
        with open(scan, "rb") as f:
            header = f.read()
        self.assertIn(b"Doe^Archibald", header)   # the sample does carry a name and an id
        self.upload(scan, report)
        self.wait_for_result()
        status, reference = self.analyze_route([("scan", scan), ("report", report)], "?images=1")
        self.assertEqual(status, 200, reference)
        self.assert_shows(reference)
        self.assert_report_marked(reference, report)
        d = self.driver
        # The sample is a cervical-spine radiograph: the gate refuses it, the page says why and
        # shows no Grad-CAM and no probabilities (the route's answer has none either).
        self.assertFalse(reference["image"]["applicable"])
        self.assertNotIn("heatmap", reference["images"])
        self.assertFalse(d.find_element(By.CSS_SELECTOR, 'img[data-testid="heatmap"]').is_displayed())
        gate = d.find_element(By.CSS_SELECTOR, '[data-testid="gate"]').text
        self.assertIn("not a scan this model is for", gate)
        self.assertIn(reference["image"]["reason"], gate)
        size = d.execute_script("const i = arguments[0]; return [i.naturalWidth, i.naturalHeight]",
                                d.find_element(By.CSS_SELECTOR, 'img[data-testid="scan-image"]'))
        self.assertEqual(size, [reference["images"]["width"], reference["images"]["height"]])
        page = d.page_source
        for secret in ("Archibald", "Doe^", "77654033"):
            self.assertNotIn(secret, page)
        self.assertNoConsoleErrors()

    def test_3_narrow_window_and_keyboard(self):
        d = self.driver
        d.set_window_size(*harness.NARROW)
        self.upload(os.path.join(STUDIES, "case1.png"), os.path.join(STUDIES, "case1.txt"))
        self.wait_for_result()
        self.assertLessEqual(d.execute_script("return document.documentElement.scrollWidth"),
                             d.execute_script("return window.innerWidth"))
        self.assertTrue(d.find_element(By.CSS_SELECTOR, 'img[data-testid="heatmap"]').is_displayed())
        stops = harness.tab_stops(d)
        for testid in ("scan-input", "report-input", "analyze", "opacity", "download-json", "download-fhir"):
            self.assertIn(testid, stops)
        self.assertNoConsoleErrors()

    def test_4_corrupt_scan_shows_the_services_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "broken.png")
            with open(bad, "wb") as f:
                f.write(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
            status, answer = self.analyze_route([("scan", bad)])
            self.assertEqual(status, 400)
            self.upload(bad)
            error = harness.wait_for(self.driver, "error", 30)
            self.assertEqual(error.text, answer["error"])
            self.assertFalse(self.driver.find_element(By.ID, "result").is_displayed())
            self.assertNoConsoleErrors(allow_http_errors=True)

    def test_5_wrong_key_is_not_authorised(self):
        wrong_key_service(self, "lepton-diagnose", [], env=SALT)
        d = self.driver
        d.find_element(By.CSS_SELECTOR, '[data-testid="scan-input"]').send_keys(os.path.join(STUDIES, "case1.png"))
        d.find_element(By.CSS_SELECTOR, '[data-testid="analyze"]').click()
        error = harness.wait_for(d, "error", 30)
        self.assertIn("not authorised", error.text.lower())
        self.assertFalse(d.find_element(By.ID, "result").is_displayed())
        self.assertEqual(d.find_elements(By.CSS_SELECTOR, '[data-testid="finding"]'), [])


if __name__ == "__main__":
    unittest.main()
