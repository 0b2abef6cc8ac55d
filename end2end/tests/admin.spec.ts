import { test, expect, APIRequestContext } from "@playwright/test";

// Runs against the server scripts/test.sh starts (jobs on, default schedules). Makes its
// own trash through the REST API, so it needs nothing from seed.py.

async function api(request: APIRequestContext, path: string, data: object) {
  const r = await request.post(`/api/2.0/mlflow/${path}`, { data });
  expect(r.ok(), `${path}: ${await r.text()}`).toBeTruthy();
  return r.json();
}

test("the admin page is rendered on the server with facts, replicas and jobs", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/admin");
  await expect(page.locator("h1")).toHaveText("Administration");
  const facts = page.getByLabel("Server facts");
  await expect(facts).toContainText("Database");
  await expect(facts).toContainText(/SQLite|PostgreSQL/);
  await expect(facts).toContainText("Schema version");
  await expect(page.getByLabel("Replicas")).toContainText("(this one)");
  const jobs = page.getByLabel("Jobs");
  for (const job of ["gc", "reaper", "upkeep"]) {
    await expect(jobs.locator(`tr[data-job="${job}"]`)).toBeVisible();
  }
  await expect(jobs).toContainText("retention 30days");
  await expect(page.getByTestId("gc-preview")).toBeVisible();
  await page.screenshot({ path: "test-results/admin-ssr.png", fullPage: true });
  await context.close();
});

test("run now makes a replica run the job, and the page shows its result", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto("/admin");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const reaperRuns = page.getByLabel("Recent job runs").locator("tbody tr", { hasText: "reaper" });
  const before = await reaperRuns.count();
  await page.getByRole("button", { name: "Run reaper now" }).click();
  await expect(page.getByRole("status")).toContainText("Requested");
  // The scheduler polls every second; the page shows the new run once it is recorded.
  await expect(async () => {
    await page.reload();
    await expect(reaperRuns).toHaveCount(before + 1);
    await expect(reaperRuns.first()).toContainText("ok");
  }).toPass({ timeout: 20_000 });
  await expect(page.locator('tr[data-job="reaper"]')).toContainText("ok,");
  await page.screenshot({ path: "test-results/admin-run-now.png", fullPage: true });
  expect(errors).toEqual([]);
});

test("the trash lists deleted experiments and runs, restores and deletes for good", async ({ page, request }) => {
  const stamp = Date.now();
  const restoreName = `e2e-trash-restore-${stamp}`;
  const { experiment_id: restoreId } = await api(request, "experiments/create", { name: restoreName });
  const { experiment_id: keptId } = await api(request, "experiments/create", { name: `e2e-trash-kept-${stamp}` });
  const { run } = await api(request, "runs/create", { experiment_id: keptId, run_name: `doomed-${stamp}` });
  await api(request, "runs/delete", { run_id: run.info.run_id });
  await api(request, "experiments/delete", { experiment_id: restoreId });

  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto("/admin");
  // Deleted moments ago: inside the retention, so not in the gc preview.
  await expect(page.getByTestId("gc-preview")).not.toContainText(run.info.run_id);
  await page.goto("/admin/trash");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const experiments = page.getByLabel("Deleted experiments");
  const runs = page.getByLabel("Deleted runs");
  await expect(experiments).toContainText(restoreName);
  await expect(runs).toContainText(`doomed-${stamp}`);
  await page.screenshot({ path: "test-results/admin-trash.png", fullPage: true });

  await page.getByRole("button", { name: `Restore ${restoreName}` }).click();
  await expect(page.getByRole("button", { name: `Restore ${restoreName}` })).toHaveCount(0);
  const restored = await request.get(`/api/2.0/mlflow/experiments/get?experiment_id=${restoreId}`);
  expect((await restored.json()).experiment.lifecycle_stage).toBe("active");

  await page.getByRole("button", { name: `Delete doomed-${stamp} now` }).click();
  await expect(page.getByRole("button", { name: `Delete doomed-${stamp} now` })).toHaveCount(0);
  const gone = await request.get(`/api/2.0/mlflow/runs/get?run_id=${run.info.run_id}`);
  expect(gone.status()).toBe(404);
  await page.screenshot({ path: "test-results/admin-trash-after.png", fullPage: true });
  expect(errors).toEqual([]);
});
