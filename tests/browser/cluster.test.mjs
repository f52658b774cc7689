// The chat example as two processes sharing rooms through Redis: pages
// connected to different processes chat in one room.
//
// CHAT_URLS names two running chat servers started with the same
// `--redis` (scripts/cluster.sh starts them), separated by a space;
// CHROMIUM the browser binary (default /usr/bin/chromium).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const servers = (process.env.CHAT_URLS ?? "").split(/\s+/).filter(Boolean);
assert.equal(servers.length, 2, "CHAT_URLS must name two chat servers");
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

// A page of its own on server `server` (0 or 1), in `path`, as `name`.
async function open(server, path, name) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("pageerror", (error) => console.error(`${name}: page error: ${error.message}`));
  await page.goto(`${servers[server]}${path}?name=${encodeURIComponent(name)}`);
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

test("the two servers are different processes", async () => {
  assert.notEqual(servers[0], servers[1]);
  for (const server of servers) {
    const response = await fetch(server + "/");
    assert.equal(response.status, 200, server);
  }
});

test("pages on different servers see each other in the room's presence", async () => {
  pages.ann = await open(0, "/room/a", "ann");
  pages.bob = await open(1, "/room/a", "bob");
  pages.cy = await open(1, "/room/b", "cy");
  await waitForPresence(pages.ann, ["ann", "bob"]);
  await waitForPresence(pages.bob, ["ann", "bob"]);
  await waitForPresence(pages.cy, ["cy"]);
});

test("pages on different servers chat in one room, each message once", async () => {
  await say(pages.ann, "hi bob, from the first server");
  await say(pages.bob, "hi ann, from the second ünïcødé 🎉");
  for (const page of [pages.ann, pages.bob]) {
    await waitForMessage(page, "ann", "hi bob, from the first server");
    await waitForMessage(page, "bob", "hi ann, from the second ünïcødé 🎉");
  }
  // A last message from each, so that a second copy of the first ones
  // would have arrived before it.
  await say(pages.ann, "last from ann");
  await say(pages.bob, "last from bob");
  for (const page of [pages.ann, pages.bob]) {
    await waitForMessage(page, "ann", "last from ann");
    await waitForMessage(page, "bob", "last from bob");
    const shown = await messages(page);
    for (const line of [
      "ann: hi bob, from the first server",
      "bob: hi ann, from the second ünïcødé 🎉",
    ]) {
      assert.equal(shown.filter((m) => m === line).length, 1, `${line} shown once: ${shown}`);
    }
    // One sender's messages in the order it sent them.
    const fromAnn = shown.filter((m) => m.startsWith("ann: "));
    assert.deepEqual(fromAnn, ["ann: hi bob, from the first server", "ann: last from ann"]);
  }
});

test("another room sees none of them, on either server", async () => {
  const dee = await open(0, "/room/b", "dee");
  await waitForPresence(pages.cy, ["cy", "dee"]);
  await say(pages.cy, "anyone?");
  await waitForMessage(dee, "cy", "anyone?");
  await waitForMessage(pages.cy, "cy", "anyone?");
  assert.deepEqual(await messages(pages.cy), ["cy: anyone?"]);
  assert.deepEqual(await messages(dee), ["cy: anyone?"]);
  for (const page of [pages.ann, pages.bob]) {
    assert.ok(!(await messages(page)).includes("cy: anyone?"));
  }
  await dee.context().close();
  await waitForPresence(pages.cy, ["cy"]);
});

test("closing a page on one server removes it from the presence on the other", async () => {
  await pages.bob.context().close();
  await waitForPresence(pages.ann, ["ann"]);
});
