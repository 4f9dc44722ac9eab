"""The local Hub's web pages in a real headless Chromium (Debian's, driven by playwright).

A local Hub holds the bundled demo released as ``demo/opencharacter-demo`` v1.0.0 (the real
release path), a README edit after it and a ``dev`` branch, plus the repos of
``web_helpers.py``. The browser opens the pages as a maintainer would before pushing: the card
with its tags and plots, the viewer (config and split pickers, pages of rows, search, filter,
histograms), files, history and a commit's diff, a model page, and a private repo before and
after logging in. Everything from a repo must show as text: ``<script>`` in a card or a row
runs nothing.
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request

import pytest
from web_helpers import (
    CARD_SCRIPT,
    DEMO,
    FIXTURE,
    FIXTURE_ROWS,
    MODEL,
    NEEDLE_EVERY,
    NOTE_LINE,
    PRIVATE,
    ROW_SCRIPT,
    SCRIPT_ROW,
    launch_browser,
    push_site_repos,
    save_screenshot,
)

from ocforge.hub import Identity, LocalHub
from ocforge.hub.web.viewer_view import CELL_CUT

ALICE = "hf_web_pages_alice_token_0123456789"
BOB = "hf_web_pages_bob_token_0123456789"


@pytest.fixture(scope="module")
def site(tmp_path_factory, demo_build):
    """A running local Hub with the demo release and the helper repos; yields its endpoint."""
    from ocforge.flows.release import release_build
    from ocforge.publish.hub_client import connect

    root = tmp_path_factory.mktemp("web-pages")
    build = root / "build"
    shutil.copytree(demo_build.out_dir, build)
    tokens = {ALICE: Identity("alice", orgs=frozenset({"demo"})), BOB: Identity("bob")}
    with LocalHub(root / "hub", tokens=tokens) as hub:
        released = release_build(
            build, DEMO, version="1.0.0", endpoint=hub.endpoint, token=ALICE, verify=False
        )
        url = f"{hub.endpoint}/datasets/{DEMO}/resolve/main/README.md"
        with urllib.request.urlopen(url, timeout=30) as answer:
            readme = answer.read().decode()
        with connect("local", endpoint=hub.endpoint, token=ALICE) as conn:
            commits = push_site_repos(conn.api, readme)
        yield {"url": hub.endpoint, "release": released.commit, **commits}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_browser(playwright)
        yield chromium
        chromium.close()


@pytest.fixture()
def dialogs() -> list[str]:
    """Messages of JavaScript dialogs the pages opened (none may open: nothing runs)."""
    return []


@pytest.fixture()
def page(browser, dialogs):
    """A fresh browser context per test: no cookies shared between tests."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    tab = context.new_page()
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def _rows(page) -> list[int]:
    rows = page.locator("#rows tbody tr").evaluate_all("rows => rows.map(r => r.dataset.row)")
    return [int(r) for r in rows]


def _go(page, selector: str) -> None:
    """Click a link or button and wait for the page it opens."""
    with page.expect_navigation():
        page.click(selector)


def _submit(page, selector: str, text: str) -> None:
    page.fill(selector, text)
    with page.expect_navigation():
        page.press(selector, "Enter")


def test_dataset_page_shows_card_tags_plots_and_viewer(site, page, tmp_path):
    answer = page.goto(f"{site['url']}/datasets/{DEMO}")
    assert answer.status == 200
    assert page.locator("#card h1").first.inner_text() == "ocforge demo role-play corpus"
    assert page.locator("#card table").count() >= 5  # configs, schemas, statistics, ledger
    tags = page.locator("#tags .tag").all_inner_texts()
    for tag in ("License cc-by-4.0", "Language en", "Size n<1K", "Task text-generation"):
        assert tag in tags
    images = page.locator("#card img").evaluate_all(
        "imgs => imgs.map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])"
    )
    assert len(images) == 6
    for src, complete, width in images:  # the plots under the card, from resolve at the rev
        assert src.startswith(f"/datasets/{DEMO}/resolve/main/plots/") and complete and width > 0
    # the viewer: default config (default: true in configs:), first split, statistics
    assert page.locator("#config-picker").input_value().endswith("/viewer/rewrite")
    assert page.locator("#num-rows").inner_text() == "61"
    assert page.locator("#rows thead svg.hist").count() >= 3
    assert "compatible" in page.locator("#compat-verdict").inner_text()
    assert page.locator("#viewer-status [data-capability=search]").inner_text() == "search ✓"
    # versions, history and the revision picker's refs
    assert page.locator("#versions").inner_text().startswith("v1.0.0")
    assert page.locator("#history-link").inner_text() == "History: 3 commits"
    revisions = page.locator("#revision-picker a").evaluate_all(
        "links => links.map(a => a.dataset.revision)"
    )
    assert revisions == ["dev", "main", "v1.0.0"]
    for shot in save_screenshot(page, tmp_path, "local-hub-dataset-page.png"):
        assert shot.stat().st_size > 20_000


def test_viewer_switches_config_and_split_and_expands_long_cells(site, page):
    page.goto(f"{site['url']}/datasets/{DEMO}")
    details = page.locator("#rows details.cell").first
    assert not details.evaluate("d => d.open")
    short = details.locator("summary").inner_text()
    details.locator("summary").click()
    full = details.locator(".full").inner_text()
    assert details.evaluate("d => d.open")
    assert len(short) == CELL_CUT + 1 and short.endswith("…") and len(full) > CELL_CUT
    with page.expect_navigation():
        page.select_option("#config-picker", label="characters")
    assert page.url.endswith("/viewer/characters")
    assert page.locator("#num-rows").inner_text() == "36"
    assert _rows(page) == list(range(36))
    assert "age_years" in page.locator("#rows thead").inner_text()
    with page.expect_navigation():
        page.select_option("#split-picker", label="test")
    assert page.url.endswith("/viewer/characters/test")
    assert page.locator("#num-rows").inner_text() == "4" and len(_rows(page)) == 4


def test_viewer_pages_searches_and_filters(site, page):
    page.goto(f"{site['url']}/datasets/{FIXTURE}/viewer/default/train")
    assert page.locator("#num-rows").inner_text() == str(FIXTURE_ROWS)
    assert _rows(page) == list(range(100))
    _go(page, "#next-page")
    assert _rows(page) == list(range(100, 200)) and "p=1" in page.url
    _go(page, "#next-page")
    assert _rows(page) == list(range(200, FIXTURE_ROWS))
    assert page.locator("#next-page").count() == 0
    _go(page, "#prev-page")
    assert _rows(page)[0] == 100
    # full-text search over the split
    _submit(page, "#search-input", "needle")
    assert "q=needle" in page.url
    needles = FIXTURE_ROWS // NEEDLE_EVERY
    assert page.locator("#num-rows").inner_text() == str(needles)
    assert _rows(page) == list(range(0, FIXTURE_ROWS, NEEDLE_EVERY))
    # a where clause, as the Hub's viewer takes it
    _submit(page, "#filter-input", '"n" >= 240 AND "n" < 245')
    assert _rows(page) == [240, 241, 242, 243, 244]
    _submit(page, "#filter-input", '"no_such_column" = 1')
    assert "no_such_column" in page.locator("#viewer-message").inner_text()  # the API's error
    # a histogram bar of a numeric column links to the filter of its bin
    page.goto(f"{site['url']}/datasets/{FIXTURE}/viewer/default/train")
    _go(page, '#rows th[data-column="n"] svg a')
    assert "where=" in page.url
    assert 0 < int(page.locator("#num-rows").inner_text()) < FIXTURE_ROWS
    assert _rows(page)[0] == 0


def test_search_on_the_demo_release(site, page):
    page.goto(f"{site['url']}/datasets/{DEMO}/viewer/rewrite/train?q=recycling")
    count = int(page.locator("#num-rows").inner_text())
    assert 1 <= count < 61
    texts = page.locator("#rows tbody tr").all_inner_texts()
    assert len(texts) == count and all("recycling" in t.lower() for t in texts)


def test_history_and_a_commit_with_its_diff(site, page):
    page.goto(f"{site['url']}/datasets/{DEMO}")
    _go(page, "#tab-history")
    assert page.locator("#history h2").inner_text() == "History: 3 commits"
    titles = page.locator("#commits .commit-title").all_inner_texts()
    assert titles == ["Add a review note to the card", "Release v1.0.0", "initial commit"]
    release = page.locator(f'#commits [data-commit="{site["release"]}"]')
    assert "files changed" in release.locator("summary").inner_text()
    assert "data/rewrite/train-00000-of-00001.parquet" in release.text_content()
    _go(page, f'#commits [data-commit="{site["note"]}"] .commit-title')
    assert page.locator("#commit-sha").inner_text() == site["note"]
    diff = page.locator('.file-diff[data-path="README.md"] pre.diff')
    assert f"+{NOTE_LINE}" in diff.locator(".add").all_inner_texts()
    assert page.locator(".file-diff").count() == 1


def test_files_revisions_and_a_file(site, page):
    page.goto(f"{site['url']}/datasets/{DEMO}/tree/main")
    names = page.locator("#tree tbody tr").evaluate_all("rs => rs.map(r => r.dataset.path)")
    assert names[:2] == ["data", "plots"] and "README.md" in names and "release.json" in names
    size = page.locator('#tree tr[data-path="release.json"] td.num').inner_text()
    assert size.endswith("kB")
    _go(page, '#tree tr[data-path="data"] a.dir')
    assert page.url.endswith("/tree/main/data")
    _go(page, '#tree tr[data-path="data/characters"] a.dir')
    parquet = '#tree tr[data-path="data/characters/train-00000-of-00001.parquet"]'
    assert "LFS/Xet" in page.locator(parquet).inner_text()
    # the same folder at the tag, from the revision picker
    page.click("#revision-picker summary")
    _go(page, '#revision-picker a[data-revision="v1.0.0"]')
    assert page.url.endswith("/tree/v1.0.0/data/characters")
    page.goto(f"{site['url']}/datasets/{DEMO}/tree/main")
    _go(page, '#tree tr[data-path="release.json"] a.file')
    assert page.url.endswith("/blob/main/release.json")
    code = "\n".join(page.locator("#code td.src").all_inner_texts())
    assert json.loads(code)["name"]
    download = page.locator("#download").get_attribute("href")
    assert download == f"/datasets/{DEMO}/resolve/main/release.json"
    assert json.loads(page.request.get(site["url"] + download).body()) == json.loads(code)
    page.goto(f"{site['url']}/datasets/{DEMO}/blob/main/plots/characters-age.png")
    assert page.locator("#blob-image").evaluate("i => i.naturalWidth") > 0


def test_model_page_shows_eval_results_and_its_dataset(site, page):
    answer = page.goto(f"{site['url']}/{MODEL}")
    assert answer.status == 200
    assert page.locator("#card h1").inner_text() == "tiny-rp"
    tags = page.locator("#tags .tag").all_inner_texts()
    assert "License apache-2.0" in tags and "Base model meta-llama/Llama-3.1-8B" in tags
    cells = page.locator("#evals tbody tr").first.locator("td").all_inner_texts()
    assert cells == [
        "Character consistency",
        "ocforge demo eval_dialogues",
        "test",
        "Character choice accuracy",
        "0.8125",
    ]
    eval_link = page.locator("#evals tbody a").get_attribute("href")
    assert eval_link == f"/datasets/{DEMO}?revision=v1.0.0"
    _go(page, f'#trained-on a[href="/datasets/{DEMO}"]')
    assert page.locator("#card h1").first.inner_text() == "ocforge demo role-play corpus"


def test_front_page_lists_and_searches_repos(site, page):
    page.goto(site["url"] + "/")
    listed = page.locator(".repo-item").evaluate_all("items => items.map(i => i.dataset.repo)")
    assert set(listed) == {DEMO, FIXTURE, MODEL}  # not the private repo
    _submit(page, "#front-search-input", "tiny")
    assert "search=tiny" in page.url
    assert page.locator(".repo-item").evaluate_all("i => i.map(x => x.dataset.repo)") == [MODEL]


def _login(page, token: str) -> None:
    page.fill("#token", token)
    _go(page, "#login-submit")


def test_private_repo_needs_login_and_the_cookie_only_reads(site, page):
    private_url = f"{site['url']}/datasets/{PRIVATE}"
    answer = page.goto(private_url)
    assert answer.status == 404 and "Secret notes" not in page.content()
    _go(page, "#error-login")
    _login(page, "hf_not_a_token_of_this_server")
    assert page.locator("#login-error").is_visible()
    _login(page, ALICE)
    assert page.url == private_url  # back where the login started
    assert page.locator("#card h1").inner_text() == "Secret notes"
    assert page.locator("#private-badge").is_visible()
    assert page.locator("#whoami").inner_text() == "alice"
    cookies = page.context.cookies()
    assert [c["httpOnly"] for c in cookies] == [True]
    assert ALICE not in cookies[0]["value"] and ALICE not in page.content()
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script can read it
    page.goto(site["url"] + "/")
    assert PRIVATE in page.locator(".repo-item").evaluate_all("i => i.map(x => x.dataset.repo)")
    # the card's own files come through resolve with the cookie too
    assert page.request.get(f"{private_url}/resolve/main/README.md").status == 200
    # the session is for reading: a write with it is refused as anonymous
    created = page.request.post(
        f"{site['url']}/api/repos/create", data=json.dumps({"name": "alice/by-cookie"})
    )
    assert created.status == 401
    _go(page, "#logout")
    assert page.goto(private_url).status == 404
    # another user's session does not see it either
    page.goto(f"{site['url']}/login?next=/datasets/{PRIVATE}")
    _login(page, BOB)
    assert page.locator("#error-message").is_visible() and page.locator("#whoami").inner_text()


def test_script_in_a_card_and_a_row_is_text(site, page, dialogs):
    page.goto(f"{site['url']}/datasets/{FIXTURE}")
    heading = page.locator("#card h1").inner_text()
    assert heading == f"Fixture {CARD_SCRIPT}"
    assert page.locator("#card script, #card img[onerror], #card a[href^=javascript]").count() == 0
    assert "onerror" in page.locator("#card").inner_text()  # the raw HTML, shown as text
    cell = page.locator(f'#rows tr[data-row="{SCRIPT_ROW}"] td').nth(2)
    assert cell.inner_text() == ROW_SCRIPT
    assert page.locator("#rows script").count() == 0
    assert page.evaluate("document.scripts.length") == 1  # the page's own hub.js only
    assert dialogs == []


def test_api_and_file_routes_are_not_pages(site):
    def get(path: str):
        try:
            with urllib.request.urlopen(site["url"] + path, timeout=30) as answer:
                return answer.status, answer.headers.get("Content-Type"), answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Content-Type"), error.read()

    status, ctype, body = get(f"/api/datasets/{DEMO}")
    assert (status, ctype, json.loads(body)["id"]) == (200, "application/json", DEMO)
    status, ctype, body = get(f"/datasets/{DEMO}/resolve/v1.0.0/release.json")
    assert status == 200 and ctype == "application/octet-stream" and json.loads(body)
    status, ctype, _ = get(f"/datasets-server/splits?dataset={DEMO}")
    assert status == 200 and ctype == "application/json"
    status, ctype, _ = get(f"/datasets/{PRIVATE}")
    assert status == 404 and ctype.startswith("text/html")
    status, ctype, body = get("/datasets/Demo/OpenCharacter-Demo")  # ids ignore case
    assert status == 200 and ctype.startswith("text/html") and b"role-play corpus" in body
    status, ctype, _ = get("/_static/hub.css")
    assert status == 200 and ctype.startswith("text/css")
    assert get("/_static/../README.md")[0] == 404


def _private_status(site, cookie: str) -> int:
    request = urllib.request.Request(
        f"{site['url']}/datasets/{PRIVATE}", headers={"Cookie": cookie}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_only_a_cookie_the_server_signed_logs_in(site, tmp_path):
    from http.client import HTTPConnection
    from urllib.parse import urlsplit

    from ocforge.hub import HubStore, TokenStore
    from ocforge.hub.context import HubContext
    from ocforge.hub.web.session import identity_from_value, session_value

    url = urlsplit(site["url"])
    conn = HTTPConnection(url.hostname, url.port, timeout=30)
    form = f"token={ALICE}&next=/datasets/{PRIVATE}"
    conn.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
    answer = conn.getresponse()
    answer.read()
    set_cookie = answer.getheader("Set-Cookie")
    assert answer.status == 303 and answer.getheader("Location") == f"/datasets/{PRIVATE}"
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    cookie = set_cookie.split(";", 1)[0]
    assert ALICE not in cookie
    assert _private_status(site, cookie) == 200
    name, value = cookie.split("=", 1)
    version, body, signature = value.split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    assert _private_status(site, f"{name}={version}.{body}.{flipped}") == 404
    other_body = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    assert _private_status(site, f"{name}={version}.{other_body}.{signature}") == 404
    assert _private_status(site, f"{name}=garbage") == 404
    # a session expires; one signed by another server (another key) is not valid here
    ctx = HubContext(HubStore(tmp_path / "root"), TokenStore(), "http://127.0.0.1:1")
    alice = Identity("alice", orgs=frozenset({"demo"}))
    assert identity_from_value(ctx, session_value(ctx, alice)) == Identity(
        "alice", "read", alice.orgs
    )
    assert identity_from_value(ctx, session_value(ctx, alice, now=0)) is None
    assert _private_status(site, f"{name}={session_value(ctx, alice)}") == 404
