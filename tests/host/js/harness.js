// Runs the custom-functions JavaScript a clearquote server serves, as Excel would, in Node.
//
// The Office, Excel and CustomFunctions globals are office-addin-mock objects; the XHR helper
// (xwRequest.post) is a fetch with axios' shape (what xlwings Server's client uses). Usage:
//   node harness.js BASE_URL TOKEN SCENARIO_JSON
// SCENARIO_JSON: [{"fn": "BLACK", "args": [[["C"]], ...], "token": optional override}, ...]
// Prints one JSON line: [{"result": ..., "error": ..., "requests": n}, ...].
"use strict";
const { installOfficeGlobals } = require("./office_globals");
const vm = require("vm");

const [baseUrl, token, scenarioJson] = process.argv.slice(2);
const scenario = JSON.parse(scenarioJson);
let currentToken = token;
let requests = 0;

const associated = installOfficeGlobals(baseUrl, () => currentToken);
globalThis.socket = null;
globalThis.xwRequest = {
  post: async (url, body, options) => {
    requests += 1;
    const response = await fetch(url, { method: "POST", headers: options.headers, body: JSON.stringify(body) });
    const text = await response.text();
    let data = text;
    try {
      data = JSON.parse(text);
    } catch (e) {}
    if (!response.ok) {
      const error = new Error(`HTTP ${response.status}`);
      error.response = { status: response.status, data: data, statusText: response.statusText };
      throw error;
    }
    return { data: data };
  },
};

async function main() {
  const code = await (await fetch(`${baseUrl}/xlwings/custom-functions-code`)).text();
  vm.runInThisContext(code, { filename: "custom-functions-code.js" });
  const out = [];
  for (const step of scenario) {
    currentToken = step.token === undefined ? token : step.token;
    requests = 0;
    const fn = associated[step.fn];
    if (!fn) {
      out.push({ error: `not associated: ${step.fn}`, requests: 0 });
      continue;
    }
    const invocation = { address: "Sheet1!A1", setResult: () => {} };
    try {
      out.push({ result: await fn(...step.args, invocation), requests: requests });
    } catch (e) {
      out.push({ error: String(e.message || e), code: e.code || null, requests: requests });
    }
  }
  process.stdout.write(JSON.stringify({ associated: Object.keys(associated).length, steps: out }) + "\n");
}
main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
  process.exit(1);
});
