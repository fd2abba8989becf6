"""The Add Connector catalogue's category tabs are tabs to a screen reader and a keyboard:
one tab stop, arrows move between the categories, the tiles are their tab panel; without
JavaScript the tabs are links that still filter."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOCUSED_TAB = """() => {
  const focused = document.activeElement;
  return focused.getAttribute("role") === "tab" && focused.textContent.trim();
}"""


def tab_states(page) -> list[tuple[str, str, str]]:
    """(name, aria-selected, tabindex) of each tab."""
    found = page.eval_on_selector_all(
        "[role=tablist] [role=tab]",
        "tabs => tabs.map(t => [t.textContent.trim(), t.getAttribute('aria-selected'),"
        " t.getAttribute('tabindex')])",
    )
    return [tuple(tab) for tab in found]


def query_of(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def test_it_moves_between_category_tabs_with_the_arrow_keys(page, live_server, admin_login, shot):
    admin_login()
    page.goto(f"{live_server.url}/connectors/add/")
    page.wait_for_selector(".tile:has-text('OpenAI')")
    tablist = page.locator("[role=tablist]")
    assert tablist.get_attribute("aria-label") == "Categories"
    assert tab_states(page) == [("All", "true", "0"), ("A.I.", "false", "-1")]
    panel = page.locator("#tiles")
    all_tab, ai_tab = page.locator("[role=tab]").all()
    assert panel.get_attribute("role") == "tabpanel"
    assert panel.get_attribute("aria-labelledby") == all_tab.get_attribute("id")
    assert {t.get_attribute("aria-controls") for t in (all_tab, ai_tab)} == {"tiles"}

    # Tab from the search box reaches the selected tab only; the arrow selects the next.
    page.fill("#catalogue-q", "zzz")
    page.wait_for_selector("text=No connector matches “zzz”.")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED_TAB) == "All"
    page.keyboard.press("ArrowRight")
    assert page.evaluate(FOCUSED_TAB) == "A.I."
    assert tab_states(page) == [("All", "false", "-1"), ("A.I.", "true", "0")]
    # The tiles are reloaded for the chosen tab, the search kept.
    page.wait_for_selector("#tiles:has-text('No connector in A.I. matches “zzz”.')")
    assert panel.get_attribute("aria-labelledby") == ai_tab.get_attribute("id")
    page.wait_for_url("**category=A.I.**")
    assert query_of(page) == {"q": ["zzz"], "category": ["A.I."]}
    shot("1-ai-tab-by-keyboard")

    page.keyboard.press("ArrowRight")  # past the last tab: back to the first
    assert page.evaluate(FOCUSED_TAB) == "All"
    page.wait_for_selector("#tiles:has-text('No connector matches “zzz”.')")
    page.keyboard.press("ArrowLeft")  # before the first: the last
    assert page.evaluate(FOCUSED_TAB) == "A.I."
    page.keyboard.press("Home")
    assert page.evaluate(FOCUSED_TAB) == "All"
    page.keyboard.press("End")
    assert page.evaluate(FOCUSED_TAB) == "A.I."
    page.wait_for_selector("#tiles:has-text('No connector in A.I.')")

    page.fill("#catalogue-q", "")
    page.wait_for_selector(".tile:has-text('OpenAI')")
    assert tab_states(page)[1] == ("A.I.", "true", "0")
    assert query_of(page)["category"] == ["A.I."]
    shot("2-ai-tab-all-tiles")


def test_it_filters_by_category_tab_without_javascript(browser, live_server, django_user_model):
    django_user_model.objects.create_user("ada", password="pw-ada-123", is_staff=True)
    viewport = {"width": 1280, "height": 600}
    context = browser.new_context(java_script_enabled=False, viewport=viewport)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/")
        page.fill("#id_username", "ada")
        page.fill("#id_password", "pw-ada-123")
        page.click("button[type=submit]")
        page.goto(f"{live_server.url}/connectors/add/?q=zzz")
        page.click("[role=tab]:has-text('A.I.')")
        page.wait_for_selector("text=No connector in A.I. matches “zzz”.")
        assert query_of(page) == {"q": ["zzz"], "category": ["A.I."]}
        assert page.get_attribute("[role=tab]:has-text('A.I.')", "aria-selected") == "true"
        assert page.get_attribute("[role=tab]:has-text('All')", "aria-selected") == "false"
        page.fill("#catalogue-q", "open")  # the search keeps the chosen tab
        page.press("#catalogue-q", "Enter")
        page.wait_for_selector(".tile:has-text('OpenAI')")
        assert query_of(page) == {"q": ["open"], "category": ["A.I."]}
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "catalogue-tabs-without-javascript.png", full_page=True)
    finally:
        context.close()
