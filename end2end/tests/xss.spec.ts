import { test, expect, Page } from "@playwright/test";

// Markup in every user-supplied text (experiment and run names, params, tags, notes,
// model descriptions) renders as text: on every page, after hydration, no injected
// script or event handler has run. The data is created here through the REST API.

const MARKUP = `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">`;

async function notPwned(page: Page, path: string) {
  const dialogs: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    d.dismiss();
  });
  await page.goto(path);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  expect(await page.locator("img[src='x']").count()).toBe(0);
  expect(dialogs).toEqual([]);
}

test("markup in names, params, tags and descriptions never runs", async ({ page, request }) => {
  const suffix = `${Date.now()}`;
  const api = async (path: string, data: object) => {
    const r = await request.post(`/api/2.0/mlflow/${path}`, { data });
    expect(r.ok(), `${path}: ${await r.text()}`).toBeTruthy();
    return r.json();
  };
  const exp = (await api("experiments/create", { name: `xss ${suffix} ${MARKUP}` })).experiment_id;
  const runs: string[] = [];
  for (const i of [1, 2]) {
    const run = (await api("runs/create", { experiment_id: exp, run_name: `r${i} ${MARKUP}`, start_time: 1000 })).run.info.run_id;
    await api("runs/log-batch", {
      run_id: run,
      metrics: [{ key: "loss", value: 1 / i, timestamp: 1, step: 0 }],
      params: [{ key: "p", value: MARKUP }],
      tags: [{ key: "t", value: MARKUP }, { key: "mlflow.note.content", value: MARKUP }],
    });
    runs.push(run);
  }
  const model = `xss-model-${suffix}`;
  await api("registered-models/create", { name: model, description: MARKUP });
  await api("model-versions/create", { name: model, source: `runs:/${runs[0]}/m`, run_id: runs[0], description: MARKUP });

  for (const path of [
    "/",
    `/experiments/${exp}?col=params.p&col=tags.t`,
    `/runs/${runs[0]}`,
    `/compare?runs=${runs.join(",")}`,
    `/plot?runs=${runs.join(",")}&keys=loss`,
    "/models",
    `/models/${model}`,
    `/models/${model}/versions/1`,
  ]) {
    await notPwned(page, path);
  }
  // The markup is shown, as text.
  await page.goto(`/runs/${runs[0]}`);
  await expect(page.locator("h1")).toContainText("<script>window.__pwned=1</script>");
});
