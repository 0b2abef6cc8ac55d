import { test, expect, Page, APIRequestContext } from "@playwright/test";

// Every page in the light and the dark theme (both follow the system), with a
// screenshot of each; and the empty states that say what to do.

async function pages(request: APIRequestContext): Promise<Record<string, string>> {
  const get = async (name: string) => {
    const r = await request.get(`/api/2.0/mlflow/experiments/get-by-name?experiment_name=${name}`);
    expect(r.ok()).toBeTruthy();
    return (await r.json()).experiment.experiment_id as string;
  };
  const runpage = await get("e2e-runpage");
  const grid = await get("e2e-grid");
  const found = await request.post("/api/2.0/mlflow/runs/search", { data: { experiment_ids: [runpage] } });
  const ids = (await found.json()).runs.map((r: { info: { run_id: string } }) => r.info.run_id);
  return {
    experiments: "/",
    grid: `/experiments/${grid}`,
    run: `/runs/${ids[0]}`,
    plot: `/plot?runs=${ids.join(",")}&keys=rp_loss`,
    compare: `/compare?runs=${ids.join(",")}`,
    models: "/models",
    version: "/models/rp-model/versions/1",
    admin: "/admin",
  };
}

/// The relative luminance of the page's background colour.
async function background(page: Page): Promise<number> {
  const rgb = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = rgb.match(/\d+/g)!.map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}

for (const scheme of ["light", "dark"] as const) {
  test(`every page renders in the ${scheme} theme`, async ({ browser, request }) => {
    const context = await browser.newContext({ colorScheme: scheme });
    const page = await context.newPage();
    for (const [name, path] of Object.entries(await pages(request))) {
      await page.goto(path);
      await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
      await expect(page.locator("main")).not.toBeEmpty();
      const lum = await background(page);
      if (scheme === "dark") expect(lum, name).toBeLessThan(0.2);
      else expect(lum, name).toBeGreaterThan(0.9);
      await page.screenshot({ path: `test-results/theme-${scheme}-${name}.png`, fullPage: true });
    }
    await context.close();
  });
}

test("empty states say what to do; errors are inline with the server's message", async ({ page, request }) => {
  const created = await request.post("/api/2.0/mlflow/experiments/create", { data: { name: `e2e-empty-${Date.now()}` } });
  const id = (await created.json()).experiment_id;
  await page.goto(`/experiments/${id}`);
  await expect(page.locator(".empty")).toContainText("No runs here yet");
  await page.goto("/models?q=no-such-model-zzz");
  await expect(page.locator(".empty")).toContainText("No registered models match. Register one with");
  await page.goto("/plot?runs=0123456789abcdef0123456789abcdef&keys=loss");
  await expect(page.locator(".error")).toContainText("0123456789abcdef0123456789abcdef");
  await page.goto("/compare?runs=");
  await expect(page.locator(".empty")).toContainText("Name two or more runs to compare");
  await page.screenshot({ path: "test-results/empty-compare.png", fullPage: true });
});
