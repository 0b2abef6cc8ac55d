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
