import { test, expect, Page } from "@playwright/test";

// The `login` project: a ferroflow started by scripts/test.sh with `--auth oidc` against
// the OIDC provider of end2end/oidc (the npm oidc-provider package),
// `--allowed-groups team-a,team-b,ferroflow-admins` and `--default-permission
// NO_PERMISSIONS`. Users and passwords: see end2end/oidc/provider.mjs (alice is in team-a,
// bob in team-b, carol in ferroflow-admins, dave in no group).

async function signIn(page: Page, login: string) {
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill(`${login}-password`);
  await page.getByRole("button", { name: "Sign-in" }).click();
}

test("alice logs in through the provider, stays logged in across a reload, and logs out", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));

  // A page asked for before login sends the browser to the login page, which remembers it.
  await page.goto("/models");
  await expect(page).toHaveURL(/\/login\?next=%2Fmodels$/);
  await page.getByRole("link", { name: /^Log in with 127\.0\.0\.1:\d+$/ }).click();

  // The provider's own login form.
  await expect(page.locator('input[name="login"]')).toBeVisible();
  await signIn(page, "alice");

  // Back on ferroflow, where the user was going, with the header saying who is logged in.
  await expect(page).toHaveURL(/\/models$/);
  await expect(page.locator("#current-user")).toHaveText("alice");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.screenshot({ path: "test-results/login-header.png" });

  // The session is in the database, not in the page: a reload keeps it.
  await page.reload();
  await expect(page.locator("#current-user")).toHaveText("alice");
  await page.goto("/");
  await expect(page.locator("#current-user")).toHaveText("alice");

  // Logging out ends the session and lands on the login page; pages ask for login again.
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole("link", { name: /^Log in with/ })).toBeVisible();
  await page.goto("/models");
  await expect(page).toHaveURL(/\/login\?next=%2Fmodels$/);
  expect(errors).toEqual([]);
});

test("carol from the admin group is shown as an admin", async ({ page }) => {
  await page.goto("/login");
  await page.getByRole("link", { name: /^Log in with/ }).click();
  await signIn(page, "carol");
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator("#current-user")).toContainText("carol");
  await expect(page.locator("#current-user .badge")).toHaveText("admin");
  await expect(page.getByRole("link", { name: "Admin", exact: true })).toBeVisible();
});

test("a user outside the allowed groups is refused with a clear page", async ({ page }) => {
  await page.goto("/");
  await expect(page).toHaveURL(/\/login/);
  await page.getByRole("link", { name: /^Log in with/ }).click();
  await signIn(page, "dave");
  await expect(page.locator("#refused")).toHaveText("dave is not in a group allowed to use this server.");
  await page.screenshot({ path: "test-results/login-refused.png" });
  // Not logged in: pages still ask for login.
  await page.goto("/");
  await expect(page).toHaveURL(/\/login\?next=%2F$/);
});

test("the API answers 401 in MLflow's JSON without a session", async ({ request }) => {
  const r = await request.get("/api/2.0/mlflow/experiments/search?max_results=1");
  expect(r.status()).toBe(401);
  expect((await r.json()).error_code).toBe("UNAUTHENTICATED");
});

// An experiment is its creator's until they share it.
test("alice shares one of her experiments with team-b; bob sees only that one and cannot rename it", async ({ browser }) => {
  const tag = Date.now().toString(36);
  const shared = `shared-${tag}`;
  const secret = `private-${tag}`;

  const alice = await browser.newPage();
  await alice.goto("/login");
  await alice.getByRole("link", { name: /^Log in with/ }).click();
  await signIn(alice, "alice");
  await expect(alice.locator("#current-user")).toHaveText("alice");
  await expect(alice.locator("body")).toHaveAttribute("data-hydrated", "true");
  for (const name of [shared, secret]) {
    await alice.getByLabel("New experiment name").fill(name);
    await alice.getByRole("button", { name: "Create" }).click();
    await expect(alice.getByRole("link", { name, exact: true })).toBeVisible();
  }

  // The creator holds MANAGE, so the experiment page shows her the permissions panel.
  await alice.getByRole("link", { name: shared, exact: true }).click();
  await expect(alice).toHaveURL(/\/experiments\/\d+/);
  const sharedUrl = alice.url();
  await alice.locator("#permissions summary").click();
  await alice.getByLabel("User or group", { exact: true }).selectOption("group");
  await alice.getByLabel("User or group name").fill("team-b");
  await alice.getByLabel("Permission").selectOption("READ");
  await alice.getByRole("button", { name: "Grant" }).click();
  await expect(alice.locator("#permissions tbody tr")).toContainText(["group team-b"]);
  await expect(alice.locator("#permissions tbody tr", { hasText: "group team-b" })).toContainText("READ");
  await alice.getByRole("link", { name: "Experiments" }).first().click();
  await alice.getByRole("link", { name: secret, exact: true }).click();
  await expect(alice).not.toHaveURL(sharedUrl);
  await expect(alice).toHaveURL(/\/experiments\/\d+/);
  const secretUrl = alice.url();
  await alice.getByRole("button", { name: "Log out" }).click();
  await alice.close();

  const bob = await browser.newPage();
  const errors: string[] = [];
  bob.on("pageerror", (e) => errors.push(e.message));
  await bob.goto("/login");
  await bob.getByRole("link", { name: /^Log in with/ }).click();
  await signIn(bob, "bob");
  await expect(bob.locator("#current-user")).toHaveText("bob");
  await expect(bob.locator("body")).toHaveAttribute("data-hydrated", "true");
  // Not an admin: no link to the admin pages.
  await expect(bob.getByRole("link", { name: "Admin", exact: true })).toHaveCount(0);
  // The shared experiment is listed; the private one is not, nor is its page readable.
  await expect(bob.getByRole("link", { name: shared, exact: true })).toBeVisible();
  await expect(bob.getByRole("link", { name: secret, exact: true })).toHaveCount(0);

  // READ does not allow renaming: the server refuses, the page says so, nothing changes.
  const row = bob.locator("tr", { has: bob.getByRole("link", { name: shared, exact: true }) });
  await row.locator("details.rename summary").click();
  await row.getByLabel(`New name for ${shared}`).fill(`${shared}-renamed-by-bob`);
  await row.getByRole("button", { name: "Save" }).click();
  await expect(bob.getByRole("alert")).toContainText(/permission/i);
  await bob.reload();
  await expect(bob.getByRole("link", { name: shared, exact: true })).toBeVisible();
  await expect(bob.getByRole("link", { name: `${shared}-renamed-by-bob` })).toHaveCount(0);

  // Nor does bob see the permissions panel, which is for MANAGE.
  await bob.goto(sharedUrl);
  await expect(bob.locator("h1")).toContainText(shared);
  await expect(bob.locator("#permissions")).toHaveCount(0);
  await bob.goto(secretUrl);
  await expect(bob.getByRole("alert")).toContainText(/permission/i);
  await expect(bob.locator("body")).not.toContainText(secret);
  await bob.screenshot({ path: "test-results/login-refused-experiment.png" });

  await bob.getByRole("button", { name: "Log out" }).click();
  await expect(bob).toHaveURL(/\/login$/);
  expect(errors).toEqual([]);
  await bob.close();
});

test("a personal access token is created on the tokens page, works with the API, and stops working once revoked", async ({ page, playwright }) => {
  await page.goto("/settings/tokens");
  await expect(page).toHaveURL(/\/login\?next=/);
  await page.getByRole("link", { name: /^Log in with/ }).click();
  await signIn(page, "alice");
  await expect(page).toHaveURL(/\/settings\/tokens$/);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");

  const name = `notebook-${Date.now().toString(36)}`;
  await page.getByLabel("Token name").fill(name);
  await page.getByLabel("Expires in days").fill("30");
  await page.getByRole("button", { name: "Create token" }).click();
  // Shown once, in full.
  const token = (await page.locator("#new-token").textContent())!.trim();
  expect(token).toMatch(/^ffp_/);
  await expect(page.locator("tr", { hasText: name })).toBeVisible();

  // What the mlflow client sends with MLFLOW_TRACKING_TOKEN.
  const api = await playwright.request.newContext({
    baseURL: test.info().project.use.baseURL,
    extraHTTPHeaders: { Authorization: `Bearer ${token}` },
  });
  const ok = await api.post("/api/2.0/mlflow/experiments/search", { data: { max_results: 5 } });
  expect(ok.status()).toBe(200);

  // Revoked on the page: the next call is refused with MLflow's JSON.
  await page.getByRole("button", { name: `Revoke ${name}` }).click();
  await expect(page.locator("tr", { hasText: name })).toContainText("revoked");
  const refused = await api.post("/api/2.0/mlflow/experiments/search", { data: { max_results: 5 } });
  expect(refused.status()).toBe(401);
  expect((await refused.json()).error_code).toBe("UNAUTHENTICATED");
  await api.dispose();
  // The page never shows the secret again.
  await page.reload();
  await expect(page.locator("body")).not.toContainText(token);
});
