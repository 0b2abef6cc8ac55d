import { test, expect, Page, APIRequestContext } from "@playwright/test";

// Seeded by end2end/seed.py: experiment "e2e-runpage" with runs "rp-alpha" and "rp-beta"
// (params lr and optimizer, tag team=runpage, metrics rp_loss and rp_acc over 50 steps,
// artifacts plot.png, notes.txt and data/table.csv) and model "rp-model" version 1 from
// rp-alpha, alias champion.

async function runIds(request: APIRequestContext): Promise<Record<string, string>> {
  const exp = await request.get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=e2e-runpage");
  expect(exp.ok()).toBeTruthy();
  const experimentId = (await exp.json()).experiment.experiment_id;
  const found = await request.post("/api/2.0/mlflow/runs/search", {
    data: { experiment_ids: [experimentId] },
  });
  const ids: Record<string, string> = {};
  for (const run of (await found.json()).runs) ids[run.info.run_name] = run.info.run_id;
  return ids;
}

async function hydrated(page: Page) {
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

test("the run page shows overview, params, metrics, tags, model versions and artifacts", async ({ page, request }) => {
  const ids = await runIds(request);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`/runs/${ids["rp-alpha"]}`);
  await expect(page.locator("h1")).toHaveText("rp-alpha");
  await expect(page.locator(".description")).toHaveText("The rp-alpha run.");
  await expect(page.locator("#params")).toContainText("lr");
  await expect(page.locator("#params")).toContainText("0.01");
  await expect(page.locator("#metrics")).toContainText("rp_loss");
  await expect(page.locator("#tags")).toContainText("team");
  await expect(page.locator("#model-versions")).toContainText("rp-model v1");
  await page.screenshot({ path: "test-results/run-page.png", fullPage: true });

  // Artifacts: an image inline, text as text, a CSV in a folder as a table.
  await hydrated(page);
  await page.locator("#artifacts").getByRole("link", { name: "plot.png" }).click();
  await expect(page).toHaveURL(/artifact=plot\.png/);
  const img = page.locator("img.preview-image");
  await expect(img).toBeVisible();
  await expect.poll(() => img.evaluate((i: HTMLImageElement) => i.naturalWidth)).toBe(64);
  await page.locator("#artifacts").getByRole("link", { name: "notes.txt" }).click();
  await expect(page.locator("pre.preview-text")).toContainText("notes of rp-alpha");
  await page.locator("#artifacts").getByRole("link", { name: "data/" }).click();
  await page.locator("#artifacts").getByRole("link", { name: "table.csv" }).click();
  await expect(page).toHaveURL(/artifact=data%2Ftable\.csv/);
  await expect(page.locator("table.preview-table tbody tr")).toHaveCount(2);
  await expect(page.locator("table.preview-table")).toContainText("first, quoted");
  await page.locator("#artifacts").screenshot({ path: "test-results/run-artifacts-csv.png" });
  const download = page.locator("#artifacts").getByRole("link", { name: "Download" });
  await expect(download).toHaveAttribute("href", /\/get-artifact\?run_id=.*&path=data%2Ftable\.csv/);

  // The copied link opens the same file for someone else.
  const other = await page.context().newPage();
  await other.goto(page.url());
  await expect(other.locator("table.preview-table")).toContainText("first, quoted");
  await other.close();
  expect(errors).toEqual([]);
});

test("tags are set and deleted from the run page, errors inline", async ({ page, request }) => {
  const ids = await runIds(request);
  await page.goto(`/runs/${ids["rp-beta"]}`);
  await hydrated(page);
  await page.getByLabel("Tag key").fill("e2e.reviewed");
  await page.getByLabel("Tag value").fill("yes");
  await page.getByRole("button", { name: "Set tag" }).click();
  await expect(page.locator("#tags")).toContainText("e2e.reviewed");
  // Written through the API's path: the API sees it.
  const got = await request.get(`/api/2.0/mlflow/runs/get?run_id=${ids["rp-beta"]}`);
  const tags = (await got.json()).run.data.tags;
  expect(tags).toContainEqual({ key: "e2e.reviewed", value: "yes" });

  await page.getByLabel("Tag key").fill("bad/../key");
  await page.getByRole("button", { name: "Set tag" }).click();
  await expect(page.getByRole("alert")).toContainText("Names cannot be a path");
  await page.screenshot({ path: "test-results/run-tag-error.png", fullPage: true });

  await page.getByRole("button", { name: "Delete tag e2e.reviewed" }).click();
  await expect(page.locator("#tags")).not.toContainText("e2e.reviewed");
});

test("an unknown run id gets a clear not-found page", async ({ page }) => {
  await page.goto("/runs/00000000000000000000000000000000");
  await expect(page.locator("h1")).toHaveText("Run not found");
  await page.screenshot({ path: "test-results/run-not-found.png" });
});

test("a metric links to its plot; the SVG has the series and the hover reads values", async ({ page, request }) => {
  const ids = await runIds(request);
  await page.goto(`/runs/${ids["rp-alpha"]}`);
  await page.locator("#metrics").getByRole("link", { name: "rp_loss" }).click();
  await expect(page).toHaveURL(/\/plot\?runs=.*&keys=rp_loss/);
  const svg = page.locator(".plot-svg svg");
  await expect(svg).toBeVisible();
  await expect(svg).toContainText("rp-alpha · rp_loss");
  expect(await svg.locator("polyline").count()).toBeGreaterThanOrEqual(1);

  // Overlay both runs and both metrics, log scale, smoothing, relative time: all in the URL.
  const query = `runs=${ids["rp-alpha"]},${ids["rp-beta"]}&keys=rp_loss,rp_acc&x=relative&scale=log&smooth=0.5`;
  await page.goto(`/plot?${query}`);
  for (const label of ["rp-alpha · rp_loss", "rp-alpha · rp_acc", "rp-beta · rp_loss", "rp-beta · rp_acc"]) {
    await expect(svg).toContainText(label);
  }
  await expect(page.locator("ul.legend li")).toHaveCount(4);
  await expect(page.locator("figure.plot")).toHaveAttribute("data-downsampled", "false");
  await hydrated(page);
  const box = (await page.locator(".plot-hover").boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
  await expect(page.locator(".plot-readout")).toContainText("rp-beta · rp_loss");
  await page.screenshot({ path: "test-results/metric-plot.png", fullPage: true });

  // The image link serves the same plot.
  const image = await request.get(`/plot.svg?${query}`);
  expect(image.headers()["content-type"]).toBe("image/svg+xml");
  expect(await image.text()).toContain("rp-beta · rp_acc");

  // A reload of the copied link gives the same view.
  await page.reload();
  await expect(page.locator("ul.legend li")).toHaveCount(4);
  await expect(page.locator("select[name=scale]")).toHaveValue("log");
});

test("two runs compare side by side, differences only, with plots and a scatter", async ({ page, request }) => {
  const ids = await runIds(request);
  await page.goto(`/compare?runs=${ids["rp-alpha"]},${ids["rp-beta"]}`);
  await expect(page.locator("#compare-params")).toContainText("optimizer");
  await expect(page.locator("#compare-params")).toContainText("0.05");
  await expect(page.locator(".plot-svg svg").first()).toContainText("rp-beta");
  await page.screenshot({ path: "test-results/compare.png", fullPage: true });
  await page.locator("#diff-toggle").click();
  await expect(page).toHaveURL(/diff=1/);
  await expect(page.locator("#compare-params")).not.toContainText("optimizer");
  await expect(page.locator("#compare-params")).toContainText("lr");

  // Scatter of lr against the last loss: both runs are points.
  await page.getByLabel("Scatter x").selectOption("params.lr");
  await page.getByLabel("Scatter y").selectOption("metrics.rp_loss");
  await page.getByRole("button", { name: "Draw" }).click();
  await expect(page).toHaveURL(/sx=params\.lr&sy=metrics\.rp_loss/);
  const scatter = page.locator("figure.scatter svg");
  await expect(scatter).toContainText("rp-alpha");
  await expect(scatter).toContainText("rp-beta");
  await page.screenshot({ path: "test-results/compare-diff-scatter.png", fullPage: true });

  const other = await page.context().newPage();
  await other.goto(page.url());
  await expect(other.locator("#compare-params")).not.toContainText("optimizer");
  await expect(other.locator("figure.scatter svg")).toContainText("rp-beta");
  await other.close();
});

test("the registry: models, a model's versions, a version and its source run", async ({ page, request }) => {
  const ids = await runIds(request);
  await page.goto("/models?q=rp-");
  await expect(page.locator("#models")).toContainText("rp-model");
  await expect(page.locator("#models")).toContainText("@champion → v1");
  await expect(page.locator("#models")).toContainText("owner=e2e");
  await page.screenshot({ path: "test-results/models.png", fullPage: true });
  await page.locator("#models").getByRole("link", { name: "rp-model" }).click();
  await expect(page.locator("h1")).toHaveText("rp-model");
  await expect(page.locator("#versions")).toContainText("@champion");
  await page.screenshot({ path: "test-results/model.png", fullPage: true });
  await page.locator("#versions").getByRole("link", { name: "Version 1" }).click();
  await expect(page.locator("h1")).toHaveText("rp-model version 1");
  await expect(page.locator("#version")).toContainText(ids["rp-alpha"]);
  await page.screenshot({ path: "test-results/model-version.png", fullPage: true });

  const link = page.url();
  const other = await page.context().newPage();
  await other.goto(link);
  await expect(other.locator("h1")).toHaveText("rp-model version 1");
  await other.locator("#version").getByRole("link", { name: ids["rp-alpha"] }).click();
  await expect(other.locator("h1")).toHaveText("rp-alpha");
  await other.close();
});

test("links the mlflow client prints (MLflow's #/ routes) open the same views here", async ({ page, request }) => {
  const ids = await runIds(request);
  const exp = await request.get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=e2e-runpage");
  const experimentId = (await exp.json()).experiment.experiment_id;
  await page.goto(`/#/experiments/${experimentId}/runs/${ids["rp-alpha"]}`);
  await expect(page).toHaveURL(new RegExp(`/runs/${ids["rp-alpha"]}$`));
  await expect(page.locator("h1")).toHaveText("rp-alpha");
  await page.goto(`/#/experiments/${experimentId}`);
  await expect(page).toHaveURL(new RegExp(`/experiments/${experimentId}$`));
  await page.goto("/#/models/rp-model");
  await expect(page).toHaveURL(/\/models\/rp-model$/);
  // Anything else stays on the page asked for.
  await page.goto("/#/something-else");
  await expect(page.locator("h1")).toHaveText("Experiments");
});
