import { test, expect, Page } from "@playwright/test";
import * as fs from "fs";

// Seeded by end2end/seed.py: experiment "e2e-grid" with 60 runs grid-run-00..59; run i has
// loss i/100 (last value; min i/100, max 1 + i/100), optimizer adam/sgd/"it's quoted"
// by i % 3, user alice (even) or bob (odd); runs 50-59 are children of runs 0-4.

async function openGrid(page: Page): Promise<string> {
  await page.goto("/");
  await page.getByRole("link", { name: "e2e-grid", exact: true }).click();
  await expect(page).toHaveURL(/\/experiments\/\d+$/);
  await expect(page.locator("h1")).toContainText("e2e-grid");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  return new URL(page.url()).pathname;
}

// Selection and copying need the WASM: wait for it after each full page load.
const hydrated = (page: Page) => expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
const rows = (page: Page) => page.locator("table.runs-grid tbody tr");
const lossCells = (page: Page) => page.locator('table.runs-grid tbody td[data-col="metrics.loss"]');

test("the grid renders on the server, with nested runs under their parents", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/");
  const href = await page.getByRole("link", { name: "e2e-grid", exact: true }).getAttribute("href");
  await page.goto(href!);
  await expect(rows(page)).toHaveCount(50);
  await expect(page.locator(".pager")).toContainText("Runs 1–50");
  // Default order is newest first; children come right after their parent.
  await page.goto(href + "?n=100");
  await expect(rows(page)).toHaveCount(60);
  const names = await page.locator('table.runs-grid tbody td[data-col="attributes.run_name"] a:not(.parent)').allTextContents();
  const parent = names.indexOf("grid-run-00");
  expect(names.slice(parent, parent + 3).sort()).toEqual(["grid-run-00", "grid-run-50", "grid-run-51"]);
  await expect(page.locator("tr.depth-1")).toHaveCount(10);
  await page.screenshot({ path: "test-results/runs-ssr.png", fullPage: true });
  await context.close();
});

test("a metric column filter generates the query and the rows", async ({ page }) => {
  await openGrid(page);
  await page.getByLabel("Filter loss", { exact: true }).fill("< 0.1");
  await page.getByLabel("Filter loss", { exact: true }).press("Enter");
  await expect(page).toHaveURL(/f\.metrics\.loss=%3C\+0\.1/);
  await expect(page.getByLabel("Filter query")).toHaveValue("metrics.loss < 0.1");
  await expect(rows(page)).toHaveCount(10);
  for (const v of await lossCells(page).allTextContents()) {
    expect(Number(v)).toBeLessThan(0.1);
  }
  await page.screenshot({ path: "test-results/runs-filtered.png", fullPage: true });
});

test("an edited query comes back into the column filters", async ({ page }) => {
  const path = await openGrid(page);
  await page.getByLabel("Filter query").fill("metrics.loss < 0.1 and params.optimizer = 'it''s quoted'");
  await page.getByLabel("Filter query").press("Enter");
  await expect(page).toHaveURL(/query=/);
  await expect(page.getByLabel("Filter loss", { exact: true })).toHaveValue("< 0.1");
  await expect(page.getByLabel("Filter optimizer", { exact: true })).toHaveValue("= it's quoted");
  await expect(page.getByLabel("Filter query")).toHaveValue("metrics.loss < 0.1 and params.optimizer = 'it''s quoted'");
  // i < 10 with i % 3 == 2: runs 2, 5 and 8.
  await expect(rows(page)).toHaveCount(3);
  await page.screenshot({ path: "test-results/runs-query-edited.png", fullPage: true });

  // A bad query shows the parser's message inline and a way out.
  await page.goto(path + "?query=" + encodeURIComponent("metrics.loss <"));
  await expect(page.getByRole("alert")).toContainText("position");
  await expect(page.getByRole("link", { name: "Clear the filters" })).toBeVisible();
  await page.screenshot({ path: "test-results/runs-error.png", fullPage: true });
});

test("sorting by a metric column, both ways", async ({ page }) => {
  await openGrid(page);
  await page.getByRole("link", { name: "loss", exact: true }).click();
  await expect(page).toHaveURL(/sort=metrics\.loss&dir=desc/);
  await expect(page.locator('th[aria-sort="descending"]')).toContainText("loss");
  await expect(lossCells(page).first()).toHaveText("0.59");
  await page.getByRole("link", { name: /^loss/ }).click();
  await expect(page).toHaveURL(/dir=asc/);
  await expect(lossCells(page).first()).toHaveText("0");
  await page.screenshot({ path: "test-results/runs-sorted.png", fullPage: true });
});

test("paging forward and back with page tokens", async ({ page }) => {
  await openGrid(page);
  await expect(page.locator(".pager")).toContainText("Runs 1–50");
  await page.getByRole("link", { name: "Next →" }).click();
  await expect(page).toHaveURL(/page=/);
  await expect(page.locator(".pager")).toContainText("Runs 51–60");
  await expect(rows(page)).toHaveCount(10);
  await expect(page.getByRole("link", { name: "Next →" })).toHaveCount(0);
  await page.screenshot({ path: "test-results/runs-page2.png", fullPage: true });
  await page.getByRole("link", { name: "← Previous" }).click();
  await expect(page.locator(".pager")).toContainText("Runs 1–50");
});

test("runs link to their permalink, selection links to compare, a copied link reproduces the view", async ({ page, context }) => {
  await openGrid(page);
  await page.getByLabel("Filter loss", { exact: true }).fill(">= 0.2, < 0.25");
  await page.getByLabel("Filter loss", { exact: true }).press("Enter");
  await expect(rows(page)).toHaveCount(5);
  await hydrated(page);
  const link = page.locator('td[data-col="attributes.run_name"] a').first();
  await expect(link).toHaveAttribute("href", /^\/runs\/[0-9a-f]{32}$/);

  await page.getByLabel("Select grid-run-24").check();
  await page.getByLabel("Select grid-run-22").check();
  await expect(page).toHaveURL(/sel=[0-9a-f]{32}%2C[0-9a-f]{32}/);
  const compare = page.getByRole("link", { name: "Compare 2" });
  await expect(compare).toHaveAttribute("href", /^\/compare\?runs=[0-9a-f]{32},[0-9a-f]{32}$/);

  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await page.getByRole("button", { name: "Copy link" }).click();
  await expect(page.getByRole("button", { name: "Link copied" })).toBeVisible();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(copied).toBe(page.url());

  const other = await context.newPage();
  await other.goto(copied);
  await expect(other.getByLabel("Filter query")).toHaveValue("metrics.loss >= 0.2 AND metrics.loss < 0.25");
  await expect(rows(other)).toHaveCount(5);
  await expect(other.getByLabel("Select grid-run-24")).toBeChecked();
  await expect(other.getByLabel("Select grid-run-23")).not.toBeChecked();
  await other.screenshot({ path: "test-results/runs-copied-link.png", fullPage: true });
});

test("columns are chosen, and the export has every matching run", async ({ page }) => {
  await openGrid(page);
  await page.getByText(/^Columns \(/).click();
  await page.getByLabel("loss (min)").check();
  await page.getByLabel("team").check();
  await page.getByRole("button", { name: "Show these columns" }).click();
  await expect(page).toHaveURL(/col=metrics_min\.loss/);
  await expect(page.locator('th[title="metrics_min.loss"]')).toBeVisible();
  await page.getByLabel("Filter team", { exact: true }).fill("IN nlp");
  await page.getByLabel("Filter team", { exact: true }).press("Enter");
  await expect(page.getByLabel("Filter query")).toHaveValue("tags.team = 'nlp'");
  await expect(rows(page)).toHaveCount(20);
  await page.screenshot({ path: "test-results/runs-columns.png", fullPage: true });

  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Export CSV" }).click();
  const file = await (await download).path();
  const lines = fs.readFileSync(file!, "utf8").trim().split("\r\n");
  expect(lines[0]).toContain("metrics_min.loss");
  expect(lines).toHaveLength(1 + 20);
});

test("my runs and the lifecycle toggle", async ({ page }) => {
  const path = await openGrid(page);
  await page.goto(path + "?user=alice&n=100");
  await page.getByRole("link", { name: "My runs" }).click();
  await expect(page).toHaveURL(/mine=1/);
  await expect(rows(page)).toHaveCount(30);
  await expect(page.locator(".note")).toContainText("alice");
  await page.getByRole("navigation", { name: "Lifecycle" }).getByRole("link", { name: "Deleted" }).click();
  await expect(page.locator(".empty")).toBeVisible();
  await page.screenshot({ path: "test-results/runs-deleted-empty.png", fullPage: true });
});

test("min, max and duration columns filter and sort in SQL, beside the MLflow query", async ({ page }) => {
  const path = await openGrid(page);
  await page.goto(
    path + "?col=attributes.run_name&col=attributes.duration&col=metrics_min.loss&col=metrics_max.loss&col=params.optimizer&n=100",
  );
  await hydrated(page);
  // Run i's loss has min i/100 and max 1 + i/100; it ran 5 + i seconds.
  await page.getByLabel("Filter loss (min)", { exact: true }).fill("< 0.05");
  await page.getByLabel("Filter loss (min)", { exact: true }).press("Enter");
  await expect(page).toHaveURL(/f\.metrics_min\.loss=%3C\+0\.05/);
  await expect(rows(page)).toHaveCount(5);
  // MLflow's grammar has no min: the query box stays empty, the filter lives in the URL.
  await expect(page.getByLabel("Filter query")).toHaveValue("");
  await page.getByLabel("Filter Duration", { exact: true }).fill("> 7s");
  await page.getByLabel("Filter Duration", { exact: true }).press("Enter");
  await expect(rows(page)).toHaveCount(2);
  await expect(page.locator('td[data-col="attributes.duration"]')).toHaveText(["9.0s", "8.0s"]); // newest first

  // Sorting by the duration (descending first), then by the max.
  await page.getByRole("link", { name: "Duration", exact: true }).click();
  await expect(page).toHaveURL(/sort=attributes\.duration&dir=desc/);
  await expect(page.locator('td[data-col="attributes.duration"]').first()).toHaveText("9.0s");
  await page.getByRole("link", { name: "loss (max)", exact: true }).click();
  await page.getByRole("link", { name: /^loss \(max\)/ }).click();
  await expect(page).toHaveURL(/sort=metrics_max\.loss&dir=asc/);
  await expect(page.locator('td[data-col="metrics_max.loss"]')).toHaveText(["1.03", "1.04"]);

  // An edited query keeps the grid's own filters.
  await page.getByLabel("Filter query").fill("params.optimizer = 'adam'");
  await page.getByLabel("Filter query").press("Enter");
  await expect(page).toHaveURL(/query=/);
  await expect(page).toHaveURL(/f\.metrics_min\.loss=/);
  await expect(rows(page)).toHaveCount(1);
  await expect(page.locator('td[data-col="attributes.run_name"]')).toContainText("grid-run-03");
  await expect(page.getByLabel("Filter Duration", { exact: true })).toHaveValue("> 7s");
  // A bad duration is a clear inline error.
  await page.getByLabel("Filter Duration", { exact: true }).fill("> soon");
  await page.getByLabel("Filter Duration", { exact: true }).press("Enter");
  await expect(page.locator(".error")).toContainText("expected a comparison such as '> 90s'");
  await page.screenshot({ path: "test-results/runs-min-max-duration.png", fullPage: true });
});

test("a box ticked before the page is interactive stays ticked and joins the selection", async ({ page }) => {
  const path = await openGrid(page);
  // Hold the WASM back, tick a box on the server-rendered page, then let it load.
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route(/\.wasm$/, async (route) => {
    await held;
    await route.continue();
  });
  await page.goto(path);
  await page.getByLabel("Select grid-run-48").check();
  await expect(page.locator("body")).not.toHaveAttribute("data-hydrated", "true");
  release();
  await hydrated(page);
  await expect(page.getByLabel("Select grid-run-48")).toBeChecked();
  await expect(page).toHaveURL(/sel=[0-9a-f]{32}$/);
  await page.getByLabel("Select grid-run-47").check();
  await expect(page.getByRole("link", { name: "Compare 2" })).toBeVisible();
  await page.screenshot({ path: "test-results/runs-ticked-before-hydration.png", fullPage: true });
});

test("the grid works from the keyboard: arrows move between rows, Space selects", async ({ page }) => {
  await openGrid(page);
  const first = page.locator("table.runs-grid tbody tr").nth(0);
  const second = page.locator("table.runs-grid tbody tr").nth(1);
  await first.locator("td.select input").focus();
  await page.keyboard.press("ArrowDown");
  await expect(second.locator("td.select input")).toBeFocused();
  await page.keyboard.press("Space");
  await expect(second.locator("td.select input")).toBeChecked();
  await expect(page).toHaveURL(/sel=[0-9a-f]{32}$/);
  await page.keyboard.press("ArrowUp");
  await expect(first.locator("td.select input")).toBeFocused();
  // From a name link, down to the next name link; Enter opens it.
  await first.locator("td.name a").first().focus();
  await page.keyboard.press("ArrowDown");
  const name = second.locator("td.name a").first();
  await expect(name).toBeFocused();
  const href = await name.getAttribute("href");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(new RegExp(href! + "$"));
});
