// The admin console in a real headless Chromium, as an operator uses it.
//
//   node tests/browser/console.mjs <gateway url> <plugin.wasm to upload> <screenshot dir>
//
// Started by host/tests/console_browser.rs, which runs the gateway (ADMIN_KEY
// below; a Gemini account whose key the mock rate-limits at once; the route
// `alias` to gemini) and the mock Gemini API. Exits non-zero on the first
// expectation that does not hold, after a screenshot of the page as it was.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const [url, pluginPath, shots, mode] = process.argv.slice(2);
if (!url || !pluginPath || !shots) {
  console.error("usage: node console.mjs <gateway url> <plugin.wasm> <screenshot dir>");
  process.exit(2);
}
const ADMIN_KEY = process.env.CONSOLE_ADMIN_KEY;
const PASTED = process.env.CONSOLE_PASTED_SECRET;
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.setDefaultTimeout(20000);
// Confirmations are accepted, except in the persistence run, which reads
// the warning and declines.
const dialogs = [];
page.on("dialog", (dialog) => {
  dialogs.push(dialog.message());
  return mode === "persistence" ? dialog.dismiss() : dialog.accept();
});
const seen = []; // every page text seen, checked for the secret at the end

let step = "start";
async function shot(name) {
  await page.screenshot({ path: join(shots, name + ".png"), fullPage: true });
  seen.push(await page.content());
}

function fail(message) {
  throw new Error(`[${step}] ${message}`);
}

/// Waits until the element's text contains `text`.
async function waitText(selector, text, timeout = 20000) {
  const started = Date.now();
  let last = "";
  while (Date.now() - started < timeout) {
    last = (await page.locator(selector).first().textContent().catch(() => "")) || "";
    if (last.includes(text)) return last;
    await page.waitForTimeout(100);
  }
  fail(`${selector} never showed ${JSON.stringify(text)}; it shows ${JSON.stringify(last.slice(0, 400))}`);
}

async function visible(selector) {
  await page.locator(selector).first().waitFor({ state: "visible" });
}

async function go(hash) {
  await page.click(`#nav a[data-page="${hash}"]`);
  await visible(`#page-${hash}`);
}

/// Sends a prompt in the Routes page's "try it" box; returns what it shows.
async function tryModel(model, expect) {
  await go("routes");
  await page.waitForFunction((m) => [...document.querySelectorAll("#try-model option")].some((o) => o.value === m), model);
  await page.selectOption("#try-model", model);
  await page.fill("#try-prompt", "hello from the console");
  await page.click("#try-form button[type=submit]");
  return waitText("#try-output", expect);
}

async function signIn() {
  await page.goto(url + "/admin/");
  await visible("#signin-form");
  await page.fill("#key", ADMIN_KEY);
  await page.click("#signin-form button[type=submit]");
  await visible("#page-overview");
}

if (mode === "persistence") {
  try {
    step = "no persistent storage: the page warns before saving";
    await signIn();
    await waitText("#persistence", "no persistent storage");
    await go("accounts");
    await page.fill("#secret-name", "CONSOLE_KEY");
    await page.fill("#secret-value", PASTED);
    await page.click("#secret-form button[type=submit]");
    const started = Date.now();
    while (!dialogs.length && Date.now() - started < 10000) await page.waitForTimeout(100);
    if (!dialogs.some((m) => m.includes("no persistent storage") && m.includes("Save anyway"))) {
      fail("no warning before saving: " + JSON.stringify(dialogs));
    }
    await page.waitForTimeout(300);
    await waitText("#stored", "Nothing pasted yet");
    await shot("20-not-persistent-warning");
    console.log("persistence warning: every step passed");
  } catch (error) {
    await page.screenshot({ path: join(shots, "failure-persistence.png"), fullPage: true }).catch(() => {});
    console.error(String(error && error.stack || error));
    await browser.close();
    process.exit(1);
  }
  await browser.close();
  process.exit(0);
}

try {
  step = "sign in";
  await page.goto(url + "/admin/");
  await visible("#signin-form");
  await page.fill("#key", "wrong-key-typed");
  await page.click("#signin-form button[type=submit]");
  await waitText("#signin-error", "Wrong admin key");
  await shot("01-sign-in-wrong-key");
  await page.fill("#key", ADMIN_KEY);
  await page.click("#signin-form button[type=submit]");
  await visible("#page-overview");
  await waitText("#overview-facts", "Version");
  await shot("02-overview");

  step = "an account fails and cools down";
  const failed = await tryModel("gemini-2.5-flash", "429");
  if (!/429/.test(failed)) fail(failed);
  await go("accounts");
  await waitText('[data-plugin="gemini"]', "cooling down");
  await waitText('[data-plugin="gemini"]', "gemini-2.5-flash: rate limited");
  await go("overview");
  await waitText("#failing", "account gemini/main");
  await shot("03-overview-failing");
  await go("accounts");
  await shot("04-accounts-cooling-down");

  step = "paste new secrets and see it serve";
  await waitText("#variables", "CONSOLE_KEY");
  await page.fill("#secret-name", "CONSOLE_KEY");
  await page.fill("#secret-value", PASTED);
  await page.click("#secret-form button[type=submit]");
  await waitText("#flash", "CONSOLE_KEY saved");
  await waitText('[data-plugin="gemini"]', "healthy");
  await waitText("#stored", "hmac:");
  await shot("05-accounts-pasted");
  const answer = await tryModel("gemini-2.5-flash", "served by gemini@");
  if (!answer.includes("hello from the console")) fail("the answer does not echo the prompt: " + answer);
  await shot("06-routes-try-it");

  step = "upload a plugin and call it";
  await go("plugins");
  await page.setInputFiles("#upload-file", pluginPath);
  await page.click("#upload-form button[type=submit]");
  await waitText("#flash", "is live");
  await waitText("#plugins-list", "uploaded (data directory)");
  await shot("07-plugins-uploaded");
  await tryModel("misbehave-echo", "served by misbehave@");

  step = "edit a route and see the next request follow it";
  await go("config");
  await waitText("#config-where", "the shipped file");
  const original = await page.inputValue("#config-text");
  const edited = original.replace('"alias" = { plugin = "gemini", model = "gemini-2.5-flash" }', '"alias" = { plugin = "misbehave", model = "misbehave-echo" }');
  if (edited === original) fail("the alias route is not in the configuration:\n" + original);
  await page.fill("#config-text", edited);
  await page.click("#config-validate");
  await waitText("#config-diff", '+ "alias" = { plugin = "misbehave"');
  await waitText("#config-diff", '- "alias" = { plugin = "gemini"');
  await shot("08-config-diff");
  await page.click("#config-apply");
  await waitText("#config-ok", "Applied");
  await waitText("#config-where", "saved from this console");
  await tryModel("alias", "served by misbehave@");

  step = "a bad configuration is shown with its line and not applied";
  await go("config");
  const live = await page.inputValue("#config-text");
  const bad = live + "\n[models\n";
  const badLine = bad.split("\n").length - 1;
  await page.fill("#config-text", bad);
  await page.click("#config-apply");
  await waitText("#config-error", `Line ${badLine}:`);
  await shot("09-config-bad");
  await tryModel("alias", "served by misbehave@");

  step = "roll back a configuration";
  await go("config");
  await waitText("#history", "Roll back to this");
  const buttons = page.locator("#history button[data-rollback]");
  const count = await buttons.count();
  if (count < 2) fail(`the history holds ${count} version(s)`);
  await buttons.nth(count - 1).click(); // the oldest: the shipped text
  await waitText("#config-ok", "Rolled back");
  await shot("10-config-rolled-back");
  await tryModel("alias", "served by gemini@");

  step = "logs";
  await go("logs");
  await page.fill("#logs-q", "misbehave");
  await page.click("#logs-form button[type=submit]");
  await waitText("#logs-requests", "misbehave-echo");
  await shot("11-logs");

  step = "the secret never shows";
  for (const html of seen) {
    if (html.includes(PASTED)) fail("a page showed the pasted secret");
  }

  step = "sign out";
  await page.click("#signout");
  await waitText("#signin-error", "Signed out");
  await visible("#signin-form");
  const after = await page.evaluate(async () => (await fetch("api/overview")).status);
  if (after !== 401) fail(`the API answered ${after} after signing out`);
  await shot("12-signed-out");

  step = "landing page";
  await page.goto(url + "/");
  await waitText("h1", "wasmgate");
  await waitText("body", url + "/v1");
  await page.click('button[data-copy="base"]');
  // The click's answer is asynchronous (the clipboard, or the selection
  // after a moment): wait for it rather than read at once.
  const said = await page
    .waitForFunction(
      () => /Copied|Selected/.test(document.querySelector('button[data-copy="base"]').textContent),
      null,
      { timeout: 10000 },
    )
    .then(() => true, () => false);
  if (!said) fail("the copy button says " + (await page.textContent('button[data-copy="base"]')));
  await shot("13-landing");
  if ((await page.content()).includes(PASTED)) fail("the landing page shows the secret");

  console.log("console in Chromium: every step passed");
} catch (error) {
  await page.screenshot({ path: join(shots, "failure.png"), fullPage: true }).catch(() => {});
  console.error(String(error && error.stack || error));
  await browser.close();
  process.exit(1);
}
await browser.close();
