"""The UI as its users meet it: Playwright drives Debian's chromium (no browser download) against the
deployment and clicks what a user clicks. Selectors are roles and visible text; every wait is bounded
(generous, for a loaded 2-core machine). Screenshots land in `artifacts/` (git-ignored), one per step,
and the last state of every test, passed or failed."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from pipelines.posture.sample_catalog import CatalogShape, write_catalog
from pipelines_tests.e2e.conftest import ARTIFACTS, Deployment

CHROMIUM = Path("/usr/bin/chromium")
# What works on a closed network: nothing phones home, no GPU, no sandbox (containers).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STEP_MS = 60_000  # one page or dialog to render
RUN_MS = 480_000  # a run or a backfill to finish: a process per step; 6 min seen at load 28 on 2 cores
pytestmark = pytest.mark.timeout(900)  # above RUN_MS plus the deployment's start
GROUPS = ["import_batches", "posture", "study_exports", "tenant_archives", "vex"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, deployment: Deployment, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, base_url=deployment.base_url)
    page = context.new_page()
    page.set_default_timeout(STEP_MS)
    expect.set_options(timeout=STEP_MS)
    try:
        yield page
    finally:
        shoot(page, f"last-{request.node.name}")
        context.close()


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png")


def open_lineage(page: Page) -> None:
    page.goto("/")
    page.get_by_role("link", name="Lineage").click()
    expect(page.get_by_role("button", name=re.compile("^materialization Materialize all"))).to_be_visible()


def filter_graph(page: Page, selection: str) -> None:
    # The filter is a CodeMirror editor: focus its text area and type, as a user's keystrokes would.
    page.get_by_role("textbox", name="Search and filter assets").focus()
    page.keyboard.type(selection)
    page.keyboard.press("Enter")


def open_launchpad(page: Page, menu: Locator) -> Locator:
    """The asset launchpad from a Materialize button's menu; a user confirms Dagster's warning when an
    upstream asset (here `import_batches`, which writes the catalog) was never materialized."""
    menu.click()
    page.get_by_role("menuitem", name="Open launchpad").click()
    warning = page.get_by_role("button", name="Confirm")
    launchpad = page.locator(".dagster-dialog").filter(has_text="Launchpad (configure assets)")
    expect(warning.or_(launchpad.get_by_text("Launchpad (configure assets)"))).to_be_visible()
    if warning.is_visible():
        shoot(page, "launchpad-upstream-warning")
        warning.click()
    expect(launchpad.get_by_text("Launchpad (configure assets)")).to_be_visible()
    return launchpad


def replace_launchpad_config(page: Page, yaml: str) -> None:
    # The launchpad's editor is CodeMirror too; insert_text pastes the text as typed, without the
    # editor's auto-indent.
    page.locator(".dagster-dialog .CodeMirror textarea").first.focus()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(yaml)


def open_asset(page: Page, name: str) -> None:
    page.goto("/")
    page.get_by_role("link", name="Catalog").click()
    page.get_by_role("link", name=name).first.click()
    expect(page.get_by_role("tab", name="Overview")).to_be_visible()


def test_the_asset_graph_shows_every_group_and_their_assets(page: Page):
    open_lineage(page)
    for group in GROUPS:
        expect(page.get_by_role("button", name=f"asset_group {group} {group}")).to_be_visible()
    page.get_by_role("button", name="settings", exact=True).click()
    page.get_by_role("menuitem", name="Expand all groups").click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="settings", exact=True).click()
    page.get_by_role("menuitem", name="Change graph to vertical orientation").click()
    page.keyboard.press("Escape")
    page.reload()  # a fresh load fits the whole, now expanded, graph in the window
    expect(page.get_by_text("vex_statements", exact=True).filter(visible=True).first).to_be_visible()
    page.wait_for_timeout(2_000)  # the layout animates into place
    shoot(page, "asset-graph")


def test_the_launchpad_materializes_the_posture_assets_with_config(page: Page, deployment: Deployment):
    service = CatalogShape(services=2, responsibilities_per_component=2).service_names()[0]
    write_catalog(deployment.database, CatalogShape(services=2, responsibilities_per_component=2))
    open_lineage(page)
    filter_graph(page, "group:posture")
    expect(page.get_by_text("lite_dynamic_state_import", exact=True).filter(visible=True).first).to_be_visible()
    launchpad = open_launchpad(page, page.get_by_role("button", name="arrow_drop_down").last)
    replace_launchpad_config(
        page,
        "ops:\n"
        "  lite_dynamic_state_export:\n"
        "    config:\n"
        f"      serviceNames: [{service}]\n"
        "  lite_dynamic_state_import:\n"
        "    config:\n"
        "      config: INSERT\n",
    )
    expect(launchpad.get_by_text("No errors")).to_be_visible()
    shoot(page, "posture-launchpad")
    launchpad.get_by_role("button", name="Materialize").click()

    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}"))
    run_id = page.url.rsplit("/", 1)[-1].split("?")[0]
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_MS)
    shoot(page, "posture-run-success")
    run = deployment.graphql(
        "query Run($id: ID!) { runOrError(runId: $id) { ... on Run { status runConfigYaml assetSelection { path } } } }",
        {"id": run_id},
    )["runOrError"]
    assert run["status"] == "SUCCESS"
    assert sorted(key["path"][0] for key in run["assetSelection"]) == [
        "lite_dynamic_state_export", "lite_dynamic_state_import", "responsive_responsibility_aggregate",
    ]
    assert f"serviceNames:\n      - {service}\n" in run["runConfigYaml"]
    assert "config: INSERT\n" in run["runConfigYaml"]


def test_a_seven_partition_backfill_from_the_partitions_dialog_runs_once_and_fills_them(
    page: Page, deployment: Deployment
):
    # Seven days inside the dialog's default window (the last 90 days), away from the latest one.
    first = dt.date.today() - dt.timedelta(days=14)
    partitions = f"[{first.isoformat()}...{(first + dt.timedelta(days=6)).isoformat()}]"
    open_asset(page, "study_exports_daily")
    page.get_by_role("tab", name="Partitions").click()
    page.get_by_role("button", name="Materialize…").click()
    dialog = page.locator(".dagster-dialog")
    expect(dialog.get_by_text("Launch runs to materialize study_exports_daily")).to_be_visible()
    dialog.get_by_role("button", name="Custom").click()
    selection = dialog.get_by_role("textbox").first
    selection.fill(partitions)
    selection.press("Enter")
    expect(dialog.get_by_text("7 partitions", exact=True)).to_be_visible()
    expect(dialog.get_by_text("Backfills all partitions in a single run.")).to_be_visible()
    shoot(page, "study-exports-backfill-dialog")
    dialog.get_by_role("button", name="Launch backfill").click()

    created = page.get_by_text(re.compile(r"^Created backfill \w+$"))
    expect(created).to_be_visible()
    backfill_id = created.inner_text().rsplit(" ", 1)[-1]
    range_box = page.get_by_role("textbox", name=re.compile("^ex: 2024-01-01"))
    range_box.fill(partitions)
    range_box.press("Enter")
    expect(page.get_by_text("7 Partitions Selected")).to_be_visible()
    materialized = page.get_by_text("Materialized (7)", exact=True)
    deadline = dt.datetime.now() + dt.timedelta(milliseconds=RUN_MS)
    while not materialized.is_visible():  # the page refreshes on its own; the button asks now
        assert dt.datetime.now() < deadline, f"backfill {backfill_id}: 7 partitions not materialized in time"
        page.wait_for_timeout(5_000)
        page.get_by_role("button", name="refresh", exact=True).click()
    expect(page.get_by_text("Missing (0)", exact=True)).to_be_visible()
    shoot(page, "study-exports-partitions-materialized")

    def backfill_runs() -> list[dict]:
        runs = deployment.runs({"dagster/backfill": backfill_id})
        return runs if all(run["status"] in ("SUCCESS", "FAILURE", "CANCELED") for run in runs) else []

    runs = deployment.wait_for(f"the run of backfill {backfill_id} to finish", backfill_runs, timeout=RUN_MS / 1000)
    assert [run["status"] for run in runs] == ["SUCCESS"], runs  # single_run backfill policy: one run


def test_the_launchpad_refuses_delete_all_for_the_posture_import(page: Page, deployment: Deployment):
    open_asset(page, "lite_dynamic_state_import")
    launchpad = open_launchpad(page, page.get_by_role("button", name="arrow_drop_down").first)
    replace_launchpad_config(page, "ops:\n  lite_dynamic_state_import:\n    config:\n      config: DELETE_ALL\n")
    expect(launchpad.get_by_text("No errors")).to_have_count(0)
    refusal = re.compile(r"^Value at path root:ops:lite_dynamic_state_import:config:config not in enum type \w+ got DELETE_ALL")
    expect(launchpad.get_by_text(refusal)).to_be_visible()
    shoot(page, "launchpad-refuses-delete-all")
    expect(launchpad.get_by_role("button", name="Materialize")).to_be_disabled()
