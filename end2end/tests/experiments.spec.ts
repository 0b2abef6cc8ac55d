import { test, expect } from "@playwright/test";

// Seeded by scripts/test.sh: experiments "e2e-vision" (tag team=cv) and "e2e-nlp" (team=nlp).

test("the experiment list is rendered on the server, before any script runs", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/");
  await expect(page.locator("h1")).toHaveText("Experiments");
  await expect(page.locator("table.grid")).toContainText("e2e-vision");
  await expect(page.locator("table.grid")).toContainText("e2e-nlp");
  await page.screenshot({ path: "test-results/experiments-ssr.png", fullPage: true });
  await context.close();
});

test("the page hydrates and the search filters through the URL", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto("/");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Search experiments").fill("tags.team = 'nlp'");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/\?q=tags\.team/);
  await expect(page.locator("table.grid tbody tr")).toHaveCount(1);
  await expect(page.locator("table.grid")).toContainText("e2e-nlp");
  await page.screenshot({ path: "test-results/experiments-filtered.png", fullPage: true });

  // The link reproduces the view for whoever opens it.
  const link = page.url();
  const other = await page.context().newPage();
  await other.goto(link);
  await expect(other.locator("table.grid tbody tr")).toHaveCount(1);
  await expect(other.locator("table.grid")).toContainText("e2e-nlp");
  expect(errors).toEqual([]);
});

test("a malformed filter shows the server's message inline", async ({ page }) => {
  await page.goto("/?q=" + encodeURIComponent("tags.team = "));
  await expect(page.getByRole("alert")).toContainText("position");
  await page.screenshot({ path: "test-results/experiments-error.png", fullPage: true });
});

test("experiments are created, renamed, deleted and restored, with run counts", async ({ page }) => {
  await page.goto("/");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const grid = page.locator("tr", { has: page.getByRole("link", { name: "e2e-grid", exact: true }) });
  await expect(grid.locator("td.numeric")).toHaveText("60");

  // Unique names, so the test can run again against the same server.
  const name = `e2e-created-${Date.now()}`;
  const newName = name.replace("created", "renamed");
  await page.getByLabel("New experiment name").fill(name);
  await page.getByRole("button", { name: "Create", exact: true }).click();
  const row = page.locator("tr", { has: page.getByRole("link", { name, exact: true }) });
  await expect(row).toBeVisible();
  await expect(row.locator("td.numeric")).toHaveText("0");

  // A duplicate name: the API's own message, inline.
  await page.getByLabel("New experiment name").fill(name);
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await expect(page.getByRole("alert")).toContainText("already exists");

  await row.getByText("Rename").click();
  await row.getByLabel(`New name for ${name}`).fill(newName);
  await row.getByRole("button", { name: "Save" }).click();
  const renamed = page.locator("tr", { has: page.getByRole("link", { name: newName, exact: true }) });
  await expect(renamed).toBeVisible();
  // A later success clears the earlier error.
  await expect(page.getByRole("alert")).toHaveCount(0);

  await renamed.getByRole("button", { name: `Delete ${newName}` }).click();
  await expect(renamed).toHaveCount(0);
  await page.getByRole("navigation", { name: "Lifecycle" }).getByRole("link", { name: "Deleted" }).click();
  await expect(page).toHaveURL(/view=deleted/);
  const deleted = page.locator("tr", { has: page.getByRole("link", { name: newName, exact: true }) });
  await page.screenshot({ path: "test-results/experiments-deleted.png", fullPage: true });
  await deleted.getByRole("button", { name: `Restore ${newName}` }).click();
  await expect(deleted).toHaveCount(0);
  await page.getByRole("navigation", { name: "Lifecycle" }).getByRole("link", { name: "Active" }).click();
  await expect(page.locator("tr", { has: page.getByRole("link", { name: newName, exact: true }) })).toBeVisible();
  await page.screenshot({ path: "test-results/experiments-actions.png", fullPage: true });
});
