// Drives code-server in headless Chromium: popup after `os.`, ghost text after `os.pa`, Tab accepts.
// With HEED_E2E_MODE=install it first clicks the extension's "Install heed" offer and waits for the
// server it installs to be ready.
// Usage: node driver.js URL OUT_DIR PROFILE_DIR (PLAYWRIGHT_CORE = path of playwright-core).
const fs = require("node:fs");
const path = require("node:path");
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const [url, outDir, profile] = process.argv.slice(2);
const POPUP = ".editor-widget.suggest-widget.visible .monaco-list-row .label-name";
const GHOST = ".monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text";
const TOAST = ".notifications-toasts .notification-list-item-message";
const MODE = process.env.HEED_E2E_MODE || "configured";
const result = { url, mode: MODE };

async function poll(what, fn, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function texts(page, selector) {
  return page.$$eval(selector, (els) => els.map((e) => e.textContent.trim()).filter(Boolean));
}

// The typed line (`os.…`) without ghost text; Monaco's line elements are not in document order.
async function currentLine(page) {
  const lines = await page.$$eval(".monaco-editor .view-line", (els) =>
    els.map((el) => {
      const copy = el.cloneNode(true);
      copy.querySelectorAll("[class*='ghost-text']").forEach((g) => g.remove());
      return copy.textContent.replace(/\u00a0/g, " ");
    }),
  );
  return lines.find((l) => l.startsWith("os."));
}

// The status bar item reads "heed" alone once the server is ready ("heed installing", "heed error"...).
async function heedStatus(page) {
  return (await texts(page, ".statusbar-item")).filter((t) => /^heed\b/.test(t));
}

// No heed anywhere: the extension offers "Install heed". Click it (or, if its toast is gone, run
// the command), then wait until the server it installed is ready.
async function installFromOffer(page) {
  const button = page.locator(".notifications-toasts .monaco-button", { hasText: "Install heed" }).first();
  const offered = await button.waitFor({ state: "visible", timeout: 60000 }).then(() => true, () => false);
  result.offer = await texts(page, TOAST);
  const started = Date.now();
  if (offered) {
    await page.screenshot({ path: path.join(outDir, "install-offer.png") });
    await button.click();
    result.installVia = "Install heed button";
  } else {
    await page.keyboard.press("F1");
    await page.keyboard.type("heed: Install or Repair Server");
    await page.waitForTimeout(500);
    await page.keyboard.press("Enter");
    result.installVia = "command";
  }
  await page.waitForTimeout(8000);
  result.progress = await texts(page, TOAST);
  await page.screenshot({ path: path.join(outDir, "install-progress.png") });
  await poll("the installed server to be ready", async () => {
    const failed = (await texts(page, TOAST)).find((t) => t.includes("could not install"));
    if (failed) throw new Error(failed);
    return (await heedStatus(page)).includes("heed");
  }, 15 * 60000);
  result.installSeconds = Math.round((Date.now() - started) / 1000);
}

async function main() {
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1100, height: 600 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  const page = ctx.pages()[0] || (await ctx.newPage());
  try {
    await page.goto(url);
    await page.waitForSelector(".monaco-workbench", { timeout: 60000 });
    await page.waitForTimeout(2000);
    await page.keyboard.press("Control+P");
    await page.waitForTimeout(500);
    await page.keyboard.type("demo.py");
    await page.waitForTimeout(1000);
    await page.keyboard.press("Enter");
    await page.waitForSelector(".monaco-editor .view-lines", { timeout: 30000 });
    if (MODE === "install") await installFromOffer(page);
    await page.click(".monaco-editor .view-lines");
    await page.keyboard.press("Control+End");

    // The first request may wait for the model to load: retype the dot until a popup shows.
    result.popup = await poll("popup", async () => {
      await page.keyboard.type(".");
      const found = await poll("popup", () => texts(page, POPUP).then((t) => t.length && t), 8000).catch(() => null);
      if (!found) await page.keyboard.press("Escape").then(() => page.keyboard.press("Backspace"));
      return found;
    }, 90000);
    await page.screenshot({ path: path.join(outDir, "popup.png") });

    // Close the popup, then type on: with quickSuggestions off only the ghost text shows.
    await page.keyboard.press("Escape");
    await page.keyboard.type("pa", { delay: 80 });
    result.ghost = await poll("ghost text", async () => {
      const t = (await texts(page, GHOST)).join("");
      if (!t) await page.keyboard.press("Alt+Backslash"); // editor.action.inlineSuggest.trigger
      return t;
    }, 30000);
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(outDir, "inline.png") });
    result.before = await currentLine(page);
    await page.keyboard.press("Tab");
    await page.waitForTimeout(500);
    await page.keyboard.press("Escape");
    result.after = await currentLine(page);
    result.status = await heedStatus(page);
  } catch (e) {
    result.error = String(e);
    await page.screenshot({ path: path.join(outDir, "failure.png") }).catch(() => {});
  } finally {
    await ctx.close();
  }
  fs.writeFileSync(path.join(outDir, "result.json"), JSON.stringify(result, null, 2));
  console.log(JSON.stringify(result, null, 2));
  const ok =
    !result.error && result.popup.includes("path") && result.ghost &&
    result.after.startsWith(result.before) && result.after.length > result.before.length;
  process.exit(ok ? 0 : 1);
}

main();
