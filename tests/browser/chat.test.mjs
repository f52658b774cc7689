// The chat example in Chromium: rooms keep their messages apart, and the
// presence list follows joins and leaves.
//
// CHAT_URL names a running chat server (scripts/browser.sh starts one);
// CHROMIUM the browser binary (default /usr/bin/chromium).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const base = process.env.CHAT_URL;
assert.ok(base, "CHAT_URL must name the chat server, e.g. http://127.0.0.1:8080");
const TIMEOUT = 10_000;

let browser;
const pages = {};

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    // As root, and on a machine without outside network: no sandbox, and
    // none of the background connections Chromium makes at start.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
});

// A page of its own (its own context: no shared storage) open in `path` as `name`.
async function open(path, name) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("pageerror", (error) => console.error(`${name}: page error: ${error.message}`));
  await page.goto(`${base}${path}?name=${encodeURIComponent(name)}`);
  await page.waitForFunction(() => document.getElementById("status").textContent === "connected");
  return page;
}

const presence = (page) =>
  page.$$eval("#presence li", (items) => items.map((li) => li.textContent).sort());

const messages = (page) =>
  page.$$eval("#messages li[data-from]", (items) =>
    items.map((li) => `${li.dataset.from}: ${li.dataset.text}`),
  );

async function say(page, text) {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
}

// Waits until the page's presence list is exactly `names` (sorted).
async function waitForPresence(page, names) {
  const expected = [...names].sort();
  await page
    .waitForFunction(
      (expected) =>
        JSON.stringify([...document.querySelectorAll("#presence li")].map((li) => li.textContent).sort()) ===
        JSON.stringify(expected),
      expected,
      { timeout: TIMEOUT },
    )
    .catch(async (error) => {
      assert.deepEqual(await presence(page), expected, `presence never became ${expected}`);
      throw error;
    });
}

// Waits until the page shows the message `from: text`.
async function waitForMessage(page, from, text) {
  await page
    .waitForFunction(
      ([from, text]) =>
        [...document.querySelectorAll("#messages li[data-from]")].some(
          (li) => li.dataset.from === from && li.dataset.text === text,
        ),
      [from, text],
      { timeout: TIMEOUT },
    )
    .catch(async () =>
      assert.fail(`${from}: ${text} never arrived; the page shows ${JSON.stringify(await messages(page))}`),
    );
}

test("the same page is served at every path", async () => {
  for (const path of ["/", "/room/a", "/some/other/path?x=1"]) {
    const response = await fetch(base + path);
    assert.equal(response.status, 200, path);
    assert.match(response.headers.get("content-type"), /^text\/html/, path);
    assert.match(await response.text(), /<title>wscore chat<\/title>/, path);
  }
});

test("both members of a room are listed in its presence", async () => {
  pages.ann = await open("/room/a", "ann");
  pages.bob = await open("/room/a", "bob");
  pages.cy = await open("/room/b", "cy");
  await waitForPresence(pages.ann, ["ann", "bob"]);
  await waitForPresence(pages.bob, ["ann", "bob"]);
  await waitForPresence(pages.cy, ["cy"]);
});

test("members of a room see each other's messages", async () => {
  await say(pages.ann, "hi bob");
  await say(pages.bob, "hi ann <b>&amp;</b> \"quotes\" \\ ünïcødé 🎉");
  for (const page of [pages.ann, pages.bob]) {
    await waitForMessage(page, "ann", "hi bob");
    await waitForMessage(page, "bob", "hi ann <b>&amp;</b> \"quotes\" \\ ünïcødé 🎉");
  }
  // Markup in a message is shown as text.
  assert.equal(await pages.ann.locator("#messages b").count(), 0);
});

test("another room sees none of them", async () => {
  // cy's own message went through the same hub after ann's and bob's: had
  // theirs reached room b, they would be on cy's page before it.
  await say(pages.cy, "anyone?");
  await waitForMessage(pages.cy, "cy", "anyone?");
  assert.deepEqual(await messages(pages.cy), ["cy: anyone?"]);
  for (const page of [pages.ann, pages.bob]) {
    assert.ok(!(await messages(page)).includes("cy: anyone?"));
  }
});

test("closing a page removes its member from the room's presence", async () => {
  await pages.bob.context().close();
  await waitForPresence(pages.ann, ["ann"]);
  await waitForPresence(pages.cy, ["cy"]);
});

test("a name is escaped, and a page without one is a guest", async () => {
  const odd = await open("/room/a", 'ann "the <i>second</i>"');
  await waitForPresence(pages.ann, ["ann", 'ann "the <i>second</i>"']);
  await odd.context().close();
  await waitForPresence(pages.ann, ["ann"]);

  const context = await browser.newContext();
  const guest = await context.newPage();
  guest.setDefaultTimeout(TIMEOUT);
  guest.on("dialog", (dialog) => dialog.accept(""));
  await guest.goto(`${base}/room/a`);
  await guest.waitForFunction(() => document.getElementById("status").textContent === "connected");
  await pages.ann.waitForFunction(
    () => [...document.querySelectorAll("#presence li")].some((li) => /^guest-\d+$/.test(li.textContent)),
    null,
    { timeout: TIMEOUT },
  );
  await context.close();
});

test("malformed frames are ignored and the room carries on", async () => {
  // Straight from a page's own WebSocket, around the form.
  await pages.ann.evaluate(async (path) => {
    const ws = new WebSocket(`ws://${location.host}${path}?name=raw`);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    for (const frame of [
      "not json",
      "{",
      '{"type":"message"}',
      '{"type":"message","text":42}',
      '{"type":"message","text":"\\ud800"}',
      '{"type":"other","text":"x"}',
      '{"type":"message","text":"   "}',
      '{"type":"message","text":"ok"} trailing',
    ]) {
      ws.send(frame);
    }
    ws.send(new Uint8Array([1, 2, 3]));
    ws.send('{ "text" : "line\\nbreak \\u00e9\\ud83c\\udf89" , "type" : "message" }');
  }, "/room/a");
  await waitForMessage(pages.ann, "raw", "line\nbreak é🎉");
  const fromRaw = (await messages(pages.ann)).filter((m) => m.startsWith("raw: "));
  assert.deepEqual(fromRaw, ["raw: line\nbreak é🎉"]);
});
