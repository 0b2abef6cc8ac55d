import { defineConfig } from "@playwright/test";

// The server is started by scripts/test.sh (seeded through the real mlflow client) and
// its address handed over in FERROFLOW_URL. The `login` project runs against a second
// server with `--auth oidc` (FERROFLOW_AUTH_URL) and the OIDC provider of end2end/oidc. Browsers are not downloaded: Debian's
// chromium is used, with the flags this sandbox needs.
export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  retries: 0,
  workers: 1,
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL: process.env.FERROFLOW_URL ?? "http://127.0.0.1:5000",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
      ],
    },
  },
  projects: [
    { name: "chromium", testIgnore: /login\.spec\.ts/ },
    {
      name: "login",
      testMatch: /login\.spec\.ts/,
      use: { baseURL: process.env.FERROFLOW_AUTH_URL ?? "http://127.0.0.1:5002" },
    },
  ],
});
