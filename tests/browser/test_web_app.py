"""The WebAppWithApi SPA in a real browser (headless Chromium driven by selenium), loaded through the
local CloudFront distribution: the page shows items that came from the API through the same origin,
and an item added in the page shows up. Run by ``make test-browser``, never by ``make test``.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CDK_VALIDATION", "false")

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from patterns.local import LocalCloud

STACK = "WebAppWithApiDemo"


def _post(url: str, body: Any) -> int:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=30)
    try:
        connection.request(
            "POST", parts.path, body=json.dumps(body),
            headers={"Host": parts.netloc, "Content-Type": "application/json"},
        )
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from demo import web_app_with_api
    from tests.conftest import new_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = new_app(outdir)
    web_app_with_api.build(app, STACK)
    app.synth()
    with LocalCloud() as cloud:
        stack = cloud.deploy(str(outdir), STACK)
        yield cloud.distribution_url(stack.outputs["DistributionId"])


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def _listed(browser: webdriver.Chrome) -> list[str]:
    return [entry.text for entry in browser.find_elements(By.CSS_SELECTOR, "#items li")]


def test_the_page_shows_api_data_and_adding_an_item_shows_up(site: str, browser: webdriver.Chrome) -> None:
    # GIVEN an item stored through the distribution's /api/items before the page loads
    assert _post(f"{site}/api/items", {"name": "seeded through the API"}) == 201
    # WHEN the browser loads the page through the distribution
    browser.get(site + "/")
    wait = WebDriverWait(browser, 20)
    wait.until(lambda b: "seeded through the API" in _listed(b))
    # THEN the data came from the API on the page's own origin (no CORS, no other host)
    origin = browser.execute_script("return location.origin")
    assert origin == site
    calls = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/api/'))"
    )
    assert calls and all(call.startswith(f"{site}/api/items") for call in calls)
    # WHEN an item is added in the page
    browser.find_element(By.ID, "name").send_keys("added in the browser")
    browser.find_element(By.ID, "submit").click()
    # THEN it shows up (newest first), the form is cleared, and nothing was refused by the CSP
    wait.until(lambda b: _listed(b)[:1] == ["added in the browser"])
    assert _listed(browser) == ["added in the browser", "seeded through the API"]
    assert browser.find_element(By.ID, "name").get_attribute("value") == ""
    assert browser.find_element(By.ID, "status").text == "2 item(s)"
    problems = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert problems == []


def test_a_client_route_loads_the_same_app(site: str, browser: webdriver.Chrome) -> None:
    browser.get(site + "/some/client/route")
    WebDriverWait(browser, 20).until(lambda b: len(_listed(b)) >= 2)
    assert browser.title == "Items"
