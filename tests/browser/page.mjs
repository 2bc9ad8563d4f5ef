// Drives headless Chromium through an example's page as a user would: fills the inputs,
// ticks the boxes, clicks, and waits for the page's #status to say `done` or `error`. Prints,
// as JSON, what the page showed and what it recorded in `window.renders`.
//
// node page.mjs '<JSON list of scenarios>'    (CHROMIUM: the browser; /usr/bin/chromium)
// scenario: {url, fill: {selector: value}, check: [selector], click: selector,
//            read: [selector], screenshot?: path}

import { chromium } from "playwright-core";

const scenarios = JSON.parse(process.argv[2]);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // No sandbox when run as root (CI); no background traffic on a closed network.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const results = [];
try {
  for (const scenario of scenarios) {
    const page = await browser.newPage({ viewport: { width: 900, height: 360 } });
    const console = [];
    page.on("console", (message) => console.push(message.text()));
    await page.goto(scenario.url);
    for (const [selector, value] of Object.entries(scenario.fill || {})) {
      await page.fill(selector, value);
    }
    for (const selector of scenario.check || []) await page.check(selector);
    await page.click(scenario.click);
    await page.waitForFunction(
      () => ["done", "error"].includes(document.getElementById("status").className),
      null, { timeout: 20000 });
    if (scenario.screenshot) await page.screenshot({ path: scenario.screenshot });
    const text = {};
    for (const selector of scenario.read || []) text[selector] = await page.textContent(selector);
    results.push({
      text,
      status: await page.textContent("#status"),
      ended: await page.getAttribute("#status", "class"),
      renders: await page.evaluate(() => window.renders),
      console,
    });
    await page.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(results));
