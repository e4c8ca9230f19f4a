"""The call console of `lepton-chat serve` in headless Chromium.

What the page shows is compared with the JSON routes' answers for the same input, fetched with
urllib (harness.call): the intent, its confidence and the runner-ups with a fresh session's
`POST /v1/sessions/{id}/turns`, the transcript and reply with the page's own session as the store
keeps it (`GET /v1/sessions/{id}`; a reply's wording depends on the session id). Also: a corrupt
recording shows the service's own error, a wrong API key shows "not authorised" and no data, the
narrow window, the keyboard, the microphone (Chromium's fake device), XSS-safe rendering, and no
browser console errors.
"""
import os
import shutil
import tempfile
import time
import unittest
import uuid

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from harness import (NARROW, PageCase, Service, by_testid, call, path, screenshot, tab_stops,
                     unlabelled_controls, wait_for, wait_until)

JFK = path("samples", "chat", "jfk.wav")
TODAY = "2026-03-02"


def percent(x):
    """A confidence as the page writes it."""
    return f"{x * 100:.1f}%"


class ChatService:
    """One service per test class, with its session store in a temporary folder."""

    extra = []

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="lepton-chat-page-")
        try:
            cls.service = Service("lepton-chat", ["--store", os.path.join(cls.dir, "sessions.sqlite"), "--today", TODAY,
                                                  *cls.service_args(cls.dir)])
        except BaseException:
            shutil.rmtree(cls.dir, True)
            raise

    @classmethod
    def service_args(cls, folder):
        return []

    @classmethod
    def tearDownClass(cls):
        cls.service.stop()
        shutil.rmtree(cls.dir, True)


class ChatConsoleTests(ChatService, PageCase):
    def session(self):
        return by_testid(self.driver, "session-input")[0].get_attribute("value")

    def reference_turn(self, body, headers=None):
        """The JSON route's answer for the same input, in a fresh session."""
        status, answer = call(self.service.base, f"/v1/sessions/ref-{uuid.uuid4().hex[:12]}/turns", "POST", body, headers)
        self.assertEqual(status, 200, answer)
        return answer

    def stored_turns(self, session):
        status, answer = call(self.service.base, f"/v1/sessions/{session}")
        self.assertEqual(status, 200, answer)
        return answer["turns"]

    def type_turn(self, text):
        box = wait_for(self.driver, "text-input", text=False)
        box.clear()
        box.send_keys(text)
        before = len(by_testid(self.driver, "conversation-turn"))
        by_testid(self.driver, "send")[0].click()
        wait_until(self.driver, lambda d: len(by_testid(d, "conversation-turn")) == before + 1, 60, "the turn in the conversation")

    def assertShows(self, reference, stored):
        """The last turn's panel against the route's answer (`reference`) and the stored turn."""
        d = self.driver
        self.assertEqual(wait_for(d, "transcript").text, reference["transcript"] or "(silence)")
        self.assertEqual(stored["text"], reference["transcript"])
        self.assertEqual(wait_for(d, "intent-name").text, reference["intent"])
        self.assertEqual(stored["intent"], reference["intent"])
        self.assertEqual(wait_for(d, "intent-confidence").text, percent(reference["confidence"]))
        self.assertEqual([e.text for e in by_testid(d, "runner-up")],
                         [f"{r['name']} {percent(r['confidence'])}" for r in reference["ranking"] if r["name"] != reference["intent"]])
        self.assertEqual([e.text for e in by_testid(d, "entity")], [f"{e['type']}: {e['value']}" for e in reference["entities"]])
        self.assertEqual(wait_for(d, "reply").text, stored["reply"])
        self.assertEqual([e.text for e in by_testid(d, "segment")],
                         [f"{s['start']:.2f}–{s['end']:.2f} s {s['text'].strip()}".rstrip() for s in reference.get("segments") or []])

    def test_typed_turn_shows_what_the_route_answers(self):
        self.open(self.service)
        session = self.session()
        self.type_turn("I lost my card, the number is 4111 1111 1111 1234")
        # The sessions list, as the route lists it (before the reference turn adds a session).
        status, listing = call(self.service.base, "/v1/sessions?limit=20")
        self.assertEqual(status, 200)
        shown = wait_until(self.driver, lambda d: [e.text for e in by_testid(d, "open-session")] or None, 30, "the sessions list")
        self.assertEqual(shown, [s["id"] for s in listing["sessions"]])
        self.assertIn(session, shown)
        reference = self.reference_turn({"text": "I lost my card, the number is 4111 1111 1111 1234"})
        stored = self.stored_turns(session)
        self.assertEqual(len(stored), 1)
        self.assertShows(reference, stored[-1])
        self.assertNotIn("4111 1111 1111 1234", self.driver.find_element(By.TAG_NAME, "body").text)
        self.assertIn("**** **** **** 1234", wait_for(self.driver, "transcript").text)
        self.assertEqual(len(by_testid(self.driver, "conversation-turn")), 1)
        self.assertNoConsoleErrors()

    def test_uploaded_wav_shows_transcript_and_reply_as_the_route(self):
        self.open(self.service)
        session = self.session()
        self.type_turn("hello")
        by_testid(self.driver, "audio-input")[0].send_keys(JFK)
        wait_until(self.driver, lambda d: len(by_testid(d, "conversation-turn")) == 2, 180, "the spoken turn")
        with open(JFK, "rb") as f:
            reference = self.reference_turn(f.read(), {"Content-Type": "audio/wav"})
        self.assertShows(reference, self.stored_turns(session)[-1])
        self.assertNoConsoleErrors()
        screenshot(self.driver, "chat-console")

    def test_corrupt_audio_shows_the_service_error(self):
        self.open(self.service)
        corrupt = os.path.join(self.tmp, "corrupt.wav")
        with open(corrupt, "wb") as f:
            f.write(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x07" * 300)
        with open(corrupt, "rb") as f:
            status, answer = call(self.service.base, "/v1/sessions/ref-corrupt/turns", "POST", f.read(), {"Content-Type": "audio/wav"})
        self.assertEqual(status, 400, answer)
        by_testid(self.driver, "audio-input")[0].send_keys(corrupt)
        self.assertEqual(wait_for(self.driver, "error", 60).text, answer["error"])
        self.assertFalse(by_testid(self.driver, "result")[0].is_displayed())
        self.assertNoConsoleErrors(allow_http_errors=True)

    def test_empty_text_is_refused_in_the_page(self):
        self.open(self.service)
        by_testid(self.driver, "send")[0].click()
        self.assertEqual(wait_for(self.driver, "error").text, "type what the caller says first")
        self.assertNoConsoleErrors()

    def test_caller_text_is_shown_as_text_never_as_markup(self):
        self.open(self.service)
        attack = '<img src=x data-injected=1> <script>window.injected=1</script>'
        self.type_turn(attack)
        self.assertEqual(wait_for(self.driver, "transcript").text, attack)
        self.assertEqual(self.driver.find_elements(By.CSS_SELECTOR, "[data-injected]"), [])
        self.assertIsNone(self.driver.execute_script("return window.injected"))
        self.assertNoConsoleErrors()

    def test_narrow_window_works(self):
        self.driver.set_window_size(*NARROW)
        self.open(self.service)
        self.type_turn("what is my balance")
        for testid in ("text-input", "send", "audio-input", "transcript", "intent", "reply"):
            self.assertTrue(wait_for(self.driver, testid, text=False).is_displayed(), testid)
        overflow = self.driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        self.assertLessEqual(overflow, 0, "the page scrolls sideways at 390 px")
        self.assertNoConsoleErrors()
        screenshot(self.driver, "chat-console-narrow")

    def test_every_control_is_labelled_and_reachable_by_keyboard(self):
        self.open(self.service)
        self.type_turn("hello")
        self.assertEqual(unlabelled_controls(self.driver), [])
        stops = tab_stops(self.driver)
        for testid in ("session-input", "new-session", "text-input", "send", "audio-input", "record", "speak-replies",
                       "refresh-sessions", "open-session"):
            self.assertIn(testid, stops)
        # A turn with the keyboard only: focus the text box, type, Enter.
        box = by_testid(self.driver, "text-input")[0]
        self.driver.execute_script("arguments[0].focus()", box)
        box.send_keys("I want to transfer money" + Keys.ENTER)
        wait_until(self.driver, lambda d: len(by_testid(d, "conversation-turn")) == 2, 60, "the second turn")
        self.assertNoConsoleErrors()

    def test_microphone_recording_is_sent_as_a_turn(self):
        self.open(self.service)
        session = self.session()
        record = by_testid(self.driver, "record")[0]
        record.click()
        wait_until(self.driver, lambda d: record.get_attribute("aria-pressed") == "true", 10, "recording to start")
        time.sleep(1.5)
        record.click()
        wait_until(self.driver, lambda d: len(by_testid(d, "conversation-turn")) == 1, 180, "the recorded turn")
        self.assertEqual(len(self.stored_turns(session)), 1)
        self.assertEqual(wait_for(self.driver, "reply").text, self.stored_turns(session)[0]["reply"])
        self.assertNoConsoleErrors()

    @unittest.skipUnless(shutil.which("espeak-ng"), "espeak-ng is not installed")
    def test_spoken_reply_plays_the_service_audio(self):
        self.open(self.service)
        by_testid(self.driver, "speak-replies")[0].click()
        self.type_turn("hello")
        audio = wait_until(self.driver, lambda d: next((e for e in by_testid(d, "reply-audio") if e.is_displayed()), None),
                           60, "the reply's audio")
        self.assertTrue(audio.get_attribute("src").startswith("blob:"))
        duration = wait_until(self.driver, lambda d: d.execute_script("return arguments[0].duration", audio), 20, "audio metadata")
        self.assertGreater(duration, 0.3)
        self.assertNoConsoleErrors()


class ChatConsoleKeyTests(ChatService, PageCase):
    """The service started with --api-key-file."""

    KEY = "page-test-key-" + uuid.uuid4().hex[:8]

    @classmethod
    def service_args(cls, folder):
        key_file = os.path.join(folder, "key")
        with open(key_file, "w") as f:
            f.write(cls.KEY + "\n")
        return ["--api-key-file", key_file]

    def test_wrong_api_key_shows_not_authorised_and_no_data(self):
        status, _ = call(self.service.base, "/v1/sessions/kept-secret/turns", "POST", {"text": "hello"}, key=self.KEY)
        self.assertEqual(status, 200)
        self.open(self.service)
        # Without a key the first call is refused and the key form opens.
        self.assertTrue(wait_for(self.driver, "error").text.startswith("not authorised"))
        self.assertTrue(wait_until(self.driver, lambda d: by_testid(d, "key-input")[0].is_displayed(), 10, "the key form"))
        key = by_testid(self.driver, "key-input")[0]
        key.send_keys("not-the-key")
        by_testid(self.driver, "key-save")[0].click()
        wait_until(self.driver, lambda d: "wrong API key" in by_testid(d, "error")[0].text, 30, "the wrong key refused")
        self.type_turn_refused("hello")
        self.assertEqual(by_testid(self.driver, "open-session"), [])
        self.assertNotIn("kept-secret", self.driver.find_element(By.TAG_NAME, "body").text)
        self.assertFalse(by_testid(self.driver, "result")[0].is_displayed())
        # The right key: the data appears; it is kept in this tab's session storage only.
        key.send_keys(self.KEY)
        by_testid(self.driver, "key-save")[0].click()
        shown = wait_until(self.driver, lambda d: [e.text for e in by_testid(d, "open-session")] or None, 30, "the sessions list")
        self.assertIn("kept-secret", shown)
        self.assertEqual(self.driver.execute_script("return sessionStorage.getItem('lepton-api-key')"), self.KEY)
        self.assertEqual(self.driver.execute_script("return localStorage.length"), 0)
        self.assertNoConsoleErrors(allow_http_errors=True)
        screenshot(self.driver, "chat-console-key")

    def type_turn_refused(self, text):
        box = by_testid(self.driver, "text-input")[0]
        box.send_keys(text)
        # The error box still says "wrong API key" from the list: clear it to see the turn's own answer.
        self.driver.execute_script("Lepton.clearError()")
        by_testid(self.driver, "send")[0].click()
        wait_until(self.driver, lambda d: "wrong API key" in (by_testid(d, "error")[0].text or ""), 30, "the refusal")
        self.assertTrue(by_testid(self.driver, "error")[0].text.startswith("not authorised: "))


if __name__ == "__main__":
    unittest.main()
