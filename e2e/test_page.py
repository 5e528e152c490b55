"""The history page, /_admin/ui/, in a real browser (Debian's chromium and chromedriver, driven
by selenium), against a real server whose history holds a push that went wrong before it went
right and a tag moved between two checkpoints. Screenshots land in test-output/."""

import shutil
import urllib.request

import pytest
from conftest import ROOT
from commands import stowage as run_stowage
from registry import Registry, digest

selenium = pytest.importorskip("selenium", reason="`make test` installs selenium (scripts/install-test-deps.sh)")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as until  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

OUTPUT = ROOT / "test-output"
TOKEN = "page-test-token"


def stowage(*args):
    return run_stowage(*args).stdout


@pytest.fixture
def browser():
    for tool in ("chromium", "chromedriver"):
        assert shutil.which(tool), f"{tool} is not installed: `make test` installs it (scripts/install-test-deps.sh)"
    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium")
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def history(start_server):
    """A server with an admin token and its own admin listener; a push with an out-of-order chunk
    and a wrong digest before it succeeded; tag v1 moved between checkpoints one and two."""
    server = start_server("--ephemeral", "--auth", "none", "--admin-token", TOKEN, "--admin-port", "0")
    admin = server.line("Admin API on ").split()[-1].removesuffix("/_admin")
    admin_args = ["--server", admin, "--admin-token", TOKEN]
    stowage("repositories", "--create", "web/app", *admin_args)
    registry = Registry(server)
    _, first = registry.push_image("web/app", "v1")
    stowage("checkpoint", "one", *admin_args)
    start = registry.start_upload("web/app")
    upload = start.headers["Docker-Upload-UUID"]
    assert registry.request("PATCH", start.headers["Location"], body=b"world", headers={"Content-Range": "5-9"}).status == 416
    location = registry.request("PATCH", start.headers["Location"], body=b"hello").headers["Location"]
    wrong = registry.request("PUT", location + "?digest=" + digest(b"not hello"))
    assert wrong.status == 400 and wrong.errors() == ["DIGEST_INVALID"]
    story = wrong.json()["errors"][0]["detail"]["story"]
    assert registry.request("PUT", location + "?digest=" + digest(b"hello")).status == 201
    _, second = registry.push_image("web/app", "v1", layers=(b"the second layer",))
    stowage("checkpoint", "two", *admin_args)
    return {"server": server, "admin": admin, "args": admin_args, "upload": upload, "story": story, "first": first,
            "second": second}


def wait(driver, condition, timeout=20):
    return WebDriverWait(driver, timeout).until(condition)


def snap(driver, name):
    OUTPUT.mkdir(exist_ok=True)
    driver.save_screenshot(str(OUTPUT / f"page-{name}.png"))


def test_the_page_tells_an_uploads_story_and_shows_a_moved_tag(browser, history):
    admin = history["admin"]
    # Behind the admin token like the rest of /_admin, on the admin listener only.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(admin + "/_admin/ui/", timeout=10)
    assert refused.value.code == 401 and b"/_admin/ui/?token=" in refused.value.read()
    assert history["server"].request("GET", "/_admin/ui/")[0] == 404
    browser.get(f"{admin}/_admin/ui/?token={TOKEN}")
    wait(browser, until.presence_of_element_located((By.CSS_SELECTOR, "tr.record")))
    assert "token" not in browser.current_url

    # The upload's story, opened where the failed push's OCI error points: both refusals, each
    # with what was wrong, then the commit.
    assert history["story"] == f"/_admin/ui/#/upload/{history['upload']}"
    browser.get(admin + history["story"])
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#events .event")) >= 5)
    refused = browser.find_elements(By.CSS_SELECTOR, "#events .event.refused")
    assert len(refused) == 2
    assert "starts at byte 5, but the upload stands at byte 0" in refused[0].text
    assert "bytes 5–9" in refused[0].text
    assert digest(b"not hello") in refused[1].text and digest(b"hello") in refused[1].text
    assert "claimed" in refused[1].text and "computed" in refused[1].text
    assert browser.find_element(By.ID, "upload-status").text == "committed"
    snap(browser, "upload-story")

    # The diff between the checkpoints: the moved tag with both digests.
    browser.get(f"{admin}/_admin/ui/#/diff/one/two")
    move = wait(browser, until.presence_of_element_located((By.CSS_SELECTOR, ".tag-move[data-tag='v1']")))
    assert move.find_element(By.CSS_SELECTOR, ".from").text == history["first"]
    assert move.find_element(By.CSS_SELECTOR, ".to").text == history["second"]
    snap(browser, "diff")

    # The state at checkpoint one: the first image carries v1; the second is not there yet.
    browser.get(f"{admin}/_admin/ui/#/state/one")
    wait(browser, until.presence_of_element_located((By.CSS_SELECTOR, ".repository[data-repository='web/app']")))
    text = browser.find_element(By.ID, "view").text
    assert history["first"] in text and history["second"] not in text
    assert browser.find_element(By.ID, "slider").get_attribute("value") == "5"
    snap(browser, "state")

    # The tag's history names both digests and what moved it.
    browser.get(f"{admin}/_admin/ui/#/tag?repository=web/app&tag=v1")
    rows = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "tr.move") or None)
    assert len(rows) == 2 and history["first"] in rows[0].text and history["second"] in rows[1].text
    assert "PUT /v2" in rows[1].text


def test_the_timeline_is_live_filtered_and_a_rewind_asks_first(browser, history):
    admin, args = history["admin"], history["args"]
    browser.get(f"{admin}/_admin/ui/?token={TOKEN}")
    browser.get(f"{admin}/_admin/ui/#/log?refused=true")
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr.record")) == 2)
    assert all("refused" in row.get_attribute("class") for row in browser.find_elements(By.CSS_SELECTOR, "tr.record"))
    browser.get(f"{admin}/_admin/ui/#/log")
    wait(browser, until.text_to_be_present_in_element((By.ID, "status"), "live"))
    stowage("repositories", "--create", "web/live", *args)
    newest = wait(browser, lambda d: (row := d.find_element(By.CSS_SELECTOR, "tr.record")) and "web/live" in row.text and row)
    assert "createRepository" in newest.text
    snap(browser, "timeline")

    # Checkpoints: a rewind asks, and a dismissed question changes nothing.
    # An injected fault stands out in the timeline.
    stowage("faults", "--route", "tags", "--status", "503", "--count", "1", *args)
    Registry(history["server"]).request("GET", "/v2/web/app/tags/list")
    fault = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "tr.record.fault") or None)[0]
    assert "injected fault" in fault.text and "503" in fault.text

    browser.get(f"{admin}/_admin/ui/#/checkpoints")
    button = wait(browser, until.element_to_be_clickable((By.CSS_SELECTOR, "tr[data-checkpoint='one'] button.danger")))
    before = stowage("health", *args)
    button.click()
    question = wait(browser, until.alert_is_present())
    assert "Rewind the registry to checkpoint one" in question.text
    question.dismiss()
    assert stowage("health", *args) == before
    browser.find_element(By.CSS_SELECTOR, "tr[data-checkpoint='one'] button.danger").click()
    wait(browser, until.alert_is_present()).accept()
    wait(browser, until.text_to_be_present_in_element((By.ID, "note"), "rewound to one"))
    tags = Registry(history["server"]).request("GET", "/v2/web/app/tags/list").json()["tags"]
    assert tags == ["v1"]
    state = stowage("state", *args)
    assert f"{history['first']}  v1" in state and history["second"] not in state
    snap(browser, "checkpoints")


def test_on_a_replay_the_page_moves_the_point_served_instead_of_rewinding(browser, history, start_server, tmp_path):
    recording = tmp_path / "history.stowage-recording"
    stowage("export", "--history", recording, *history["args"])
    replay = start_server("--replay", str(recording), "--auth", "none")
    browser.get(f"{replay.url}/_admin/ui/#/checkpoints")
    banner = wait(browser, until.visibility_of_element_located((By.ID, "replay")))
    assert "Replaying a recording (read-only)" in banner.text
    assert not browser.find_elements(By.CSS_SELECTOR, "button.danger")
    wait(browser, until.element_to_be_clickable((By.CSS_SELECTOR, "tr[data-checkpoint='one'] button"))).click()
    wait(browser, until.alert_is_present()).accept()
    wait(browser, until.text_to_be_present_in_element((By.ID, "replay"), "checkpoint one"))
    manifest = Registry(replay).request("GET", "/v2/web/app/manifests/v1").body
    assert digest(manifest) == history["first"]
    snap(browser, "replay")
