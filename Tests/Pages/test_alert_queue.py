#!/usr/bin/env python3
"""The alert queue of `lepton-risk serve` in headless Chromium.

What the page shows is checked against independent references for the same input: the JSON route
(`POST /v1/score?budget=F` for the alerts a budget yields, `POST /v1/explain?row=N` for an
explanation), `lepton-risk evaluate --json` (the Swift metrics) and an average precision computed
here for the PR curve, and the CSV's own labels for the histogram. Then the error paths: a corrupt
file shows the service's error and no alert; a wrong API key shows "not authorised" and no data.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from pages_support import small_screenshot, wrong_key_service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

ROOT = harness.ROOT
MODEL = os.path.join(ROOT, "samples/risk/model")
HISTORY = os.path.join(ROOT, "samples/risk/train.csv")
CSV = os.path.join(ROOT, "samples/risk/test.csv")


def ndjson(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def average_precision(pairs):
    """scikit-learn's average_precision_score for (score, label) pairs: sum over the distinct score
    cuts of the recall gained times the precision at that cut."""
    pairs = sorted(pairs, key=lambda p: -p[0])
    positives = sum(1 for _, y in pairs if y == 1)
    tp = fp = 0
    ap = last = 0.0
    for i, (s, y) in enumerate(pairs):
        tp += y == 1
        fp += y != 1
        if i + 1 < len(pairs) and pairs[i + 1][0] == s:
            continue
        recall = tp / positives
        ap += (recall - last) * tp / (tp + fp)
        last = recall
    return ap


class AlertQueueTest(harness.PageCase):
    @classmethod
    def setUpClass(cls):
        cls.service = harness.Service("lepton-risk", ["--model", MODEL, "--history", HISTORY])
        with open(CSV, "rb") as f:
            cls.csv = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.service.stop()

    def route(self, route, body=None):
        status, answer = harness.call(self.service.base, route, "POST", body or self.csv, {"Content-Type": "text/csv"})
        self.assertEqual(status, 200, answer)
        return answer

    def score_route(self, query):
        return ndjson(self.route("/v1/score" + query).decode())

    def upload(self, path=CSV):
        self.open(self.service)
        self.driver.find_element(By.CSS_SELECTOR, '[data-testid="csv-input"]').send_keys(path)
        self.driver.find_element(By.CSS_SELECTOR, '[data-testid="score"]').click()

    def shown_rows(self):
        return [(int(tr.get_attribute("data-row")), float(tr.get_attribute("data-score")),
                 tr.find_elements(By.TAG_NAME, "td"))
                for tr in self.driver.find_elements(By.CSS_SELECTOR, '[data-testid="alert-row"]')]

    def set_budget(self, percent):
        box = self.driver.find_element(By.CSS_SELECTOR, '[data-testid="budget"]')
        box.clear()
        box.send_keys(str(percent))

    def test_1_queue_budget_pages_explanation_and_charts(self):
        self.upload()
        harness.wait_for(self.driver, "alert-row", 60)

        # The default budget (1 %) gives the alerts POST /v1/score?budget=0.01 answers, in its order.
        reference = self.score_route("?budget=0.01")[1:]
        rows = self.shown_rows()
        self.assertEqual(len(rows), len(reference))
        self.assertIn(f"{len(reference)} alerts", self.driver.find_element(By.CSS_SELECTOR, '[data-testid="budget-count"]').text)
        for (row, score, cells), ref in zip(rows, reference):
            self.assertEqual(row, ref["row"])
            self.assertAlmostEqual(score, ref["score"], places=6)
            self.assertEqual(cells[2].text, f"{ref['score']:.4f}")
            self.assertEqual(cells[3].text, ref["time"])
            self.assertEqual(cells[5].text, ref["from"])
            self.assertEqual(cells[6].text, ref["to"])
            # Reasons as the page's own route call gave them: flagged rows carry them.
            if ref["flagged"]:
                self.assertEqual(cells[8].text, "; ".join(r["text"] for r in ref["reasons"]))
            else:
                self.assertIn("below the model's threshold", cells[8].text)

        # A larger budget: as many alerts as the route's budget gives, paged 20 at a time.
        self.set_budget(5)
        reference = self.score_route("?budget=0.05")[1:]
        self.assertGreater(len(reference), 20)
        self.assertIn(f"{len(reference)} alerts", self.driver.find_element(By.CSS_SELECTOR, '[data-testid="budget-count"]').text)
        self.assertEqual([r[0] for r in self.shown_rows()], [r["row"] for r in reference[:20]])
        self.driver.find_element(By.CSS_SELECTOR, '[data-testid="next-page"]').click()
        self.assertEqual([r[0] for r in self.shown_rows()], [r["row"] for r in reference[20:40]])
        self.assertIn("page 2 of", self.driver.find_element(By.CSS_SELECTOR, '[data-testid="page"]').text)
        self.driver.find_element(By.CSS_SELECTOR, '[data-testid="prev-page"]').click()

        # The first alert's explanation, as POST /v1/explain answers it.
        first = reference[0]
        self.driver.find_elements(By.CSS_SELECTOR, '[data-testid="alert-row"] button')[0].click()
        box = harness.wait_for(self.driver, "explanation", 30)
        explanation = self.route(f"/v1/explain?row={first['row']}")
        self.assertIn(explanation["subject"], box.find_element(By.CSS_SELECTOR, '[data-testid="explanation-subject"]').text)
        drivers = box.find_elements(By.CSS_SELECTOR, '[data-testid="drivers"] tr')
        self.assertEqual([tr.find_elements(By.TAG_NAME, "td")[0].text for tr in drivers], [d["reason"] for d in explanation["drivers"]])
        neighbours = box.find_elements(By.CSS_SELECTOR, '[data-testid="neighbour"]')
        self.assertEqual([int(tr.find_elements(By.TAG_NAME, "td")[0].text) for tr in neighbours], [e["row"] for e in explanation["edges"]])
        # The drawing: one node per account of those transfers, one arrow per transfer, the alert's in red.
        accounts = {a for e in explanation["edges"] for a in (e["from"], e["to"])} | {first["from"], first["to"]}
        svg = box.find_element(By.CSS_SELECTOR, '[data-testid="money-path"]')
        self.assertEqual(len(svg.find_elements(By.CSS_SELECTOR, "circle.node")), len(accounts))
        transfers = {e["row"] for e in explanation["edges"]} | {first["row"]}
        self.assertEqual(len(svg.find_elements(By.CSS_SELECTOR, "path.edge")), len(transfers))
        self.assertEqual(len(svg.find_elements(By.CSS_SELECTOR, "path.edge.alert")), 1)

        # The PR curve's average precision: as `evaluate --json` (Swift) and as computed here from the
        # route's scores and the labels of the CSV itself.
        every = self.score_route("")[1:]
        labels = {i: int(line.rsplit(",", 1)[1]) for i, line in enumerate(self.csv.decode().splitlines()[1:])}
        mine = average_precision([(r["score"], labels[r["row"]]) for r in every])
        cli = json.loads(subprocess.run([os.path.join(harness.BIN, "lepton-risk"), "evaluate", "--model", MODEL, "--transactions", CSV,
                                         "--history", HISTORY, "--json"], capture_output=True, check=True, text=True).stdout)
        shown = self.driver.find_element(By.CSS_SELECTOR, '[data-testid="pr-auc"]').text
        value = float(shown.split("PR-AUC) ")[1].split()[0])
        self.assertAlmostEqual(value, mine, places=3)
        self.assertAlmostEqual(value, cli["pr_auc"], places=3)
        self.assertIn(f"{cli['positives']} of them laundering", shown)
        self.assertIn(f"{cli['rows']:,} labelled", shown)
        curve = self.driver.find_element(By.CSS_SELECTOR, '[data-testid="pr-curve"] path.curve')
        self.assertGreater(len(curve.get_attribute("d").split("L")), 2)
        # The histogram's bars hold every labelled row once, positives apart.
        bars = self.driver.find_elements(By.CSS_SELECTOR, '[data-testid="histogram"] rect')
        counts = {"bar-pos": 0, "bar-neg": 0}
        for bar in bars:
            counts[bar.get_attribute("class")] += int(bar.find_element(By.TAG_NAME, "title").get_attribute("textContent").split()[0])
        self.assertEqual(counts["bar-pos"], sum(labels.values()))
        self.assertEqual(counts["bar-neg"], len(labels) - sum(labels.values()))

        self.assertNoConsoleErrors()
        self.assertEqual(harness.unlabelled_controls(self.driver), [])
        small_screenshot(self.driver, "alert-queue")

    def test_2_narrow_window_and_keyboard(self):
        self.driver.set_window_size(*harness.NARROW)
        self.upload()
        harness.wait_for(self.driver, "alert-row", 60)
        # Usable at 390 px: nothing wider than the window; the table scrolls in its own box.
        self.assertLessEqual(self.driver.execute_script("return document.documentElement.scrollWidth"),
                             self.driver.execute_script("return window.innerWidth"))
        # The keyboard reaches the file input, the button, the budget and the rows' buttons; Enter opens one.
        stops = harness.tab_stops(self.driver)
        for testid in ("csv-input", "score", "budget"):
            self.assertIn(testid, stops)
        button = self.driver.find_elements(By.CSS_SELECTOR, '[data-testid="alert-row"] button')[0]
        self.driver.execute_script("arguments[0].focus()", button)
        button.send_keys(Keys.ENTER)
        harness.wait_for(self.driver, "explanation", 30)
        self.assertNoConsoleErrors()

    def test_3_corrupt_file_shows_the_services_error(self):
        with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as f:
            f.write(b"\x89PNG\r\n\x1a\n\x00\x00 not, a transactions file\n\x01\x02")
            bad = f.name
        try:
            with open(bad, "rb") as f:
                status, answer = harness.call(self.service.base, "/v1/score", "POST", f.read(), {"Content-Type": "text/csv"})
            self.assertEqual(status, 400)
            self.upload(path=bad)
            error = harness.wait_for(self.driver, "error", 30)
            self.assertEqual(error.text, answer["error"])
            self.assertEqual(self.driver.find_elements(By.CSS_SELECTOR, '[data-testid="alert-row"]'), [])
            self.assertNoConsoleErrors(allow_http_errors=True)
        finally:
            os.unlink(bad)

    def test_4_wrong_key_is_not_authorised(self):
        wrong_key_service(self, "lepton-risk", ["--model", MODEL])
        d = self.driver
        d.find_element(By.CSS_SELECTOR, '[data-testid="csv-input"]').send_keys(CSV)
        d.find_element(By.CSS_SELECTOR, '[data-testid="score"]').click()
        error = harness.wait_for(d, "error", 30)
        self.assertIn("not authorised", error.text.lower())
        self.assertEqual(d.find_elements(By.CSS_SELECTOR, '[data-testid="alert-row"]'), [])
        self.assertFalse(d.find_element(By.ID, "queue").is_displayed())
        self.assertEqual(d.find_element(By.ID, "summary").text, "")

    def test_5_too_large_file_shows_the_services_error(self):
        # A service taking at most 1 MB, and a file of 3 MB (the sample's rows repeated): the page
        # shows the service's 413 message, not a blank page or a network error.
        small = harness.Service("lepton-risk", ["--model", MODEL, "--max-body-mb", "1"])
        self.addCleanup(small.stop)
        header, rows = self.csv.split(b"\n", 1)
        big = os.path.join(self.tmp, "big.csv")
        with open(big, "wb") as f:
            f.write(header + b"\n" + rows * (3 * 1024 * 1024 // len(rows) + 1))
        with open(big, "rb") as f:
            status, answer = harness.call(small.base, "/v1/score", "POST", f.read(), {"Content-Type": "text/csv"})
        self.assertEqual(status, 413)
        self.open(small)
        self.driver.find_element(By.CSS_SELECTOR, '[data-testid="csv-input"]').send_keys(big)
        self.driver.find_element(By.CSS_SELECTOR, '[data-testid="score"]').click()
        error = harness.wait_for(self.driver, "error", 30)
        self.assertEqual(error.text, answer["error"])
        self.assertIn("larger than 1 MB", error.text)
        self.assertEqual(self.driver.find_elements(By.CSS_SELECTOR, '[data-testid="alert-row"]'), [])
        self.assertNoConsoleErrors(allow_http_errors=True)


if __name__ == "__main__":
    unittest.main()
