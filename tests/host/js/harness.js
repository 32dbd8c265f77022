// Runs the custom-functions JavaScript a clearquote server serves, as Excel would, in Node.
//
// The Office, Excel and CustomFunctions globals are office-addin-mock objects; the XHR helper
// (xwRequest.post) is a fetch with axios' shape (what xlwings Server's client uses). Usage:
//   node harness.js BASE_URL TOKEN SCENARIO_JSON
// SCENARIO_JSON: [{"fn": "BLACK", "args": [[["C"]], ...], "token": optional override}, ...]
// Prints one JSON line: [{"result": ..., "error": ..., "requests": n}, ...].
"use strict";
const { OfficeMockObject } = require("office-addin-mock");
const vm = require("vm");

const [baseUrl, token, scenarioJson] = process.argv.slice(2);
const scenario = JSON.parse(scenarioJson);
let currentToken = token;
let requests = 0;

class CustomFunctionsError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
const associated = {};
globalThis.Office = new OfficeMockObject({
  onReady: async (callback) => {
    const info = { host: "Excel", platform: "PC" };
    if (callback) callback(info);
    return info;
  },
  context: { requirements: { isSetSupported: () => true } },
});
globalThis.Excel = {
  RequestContext: function () {
    return new OfficeMockObject({ workbook: { name: "Book1.xlsx" }, sync: async () => {} });
  },
};
globalThis.CustomFunctions = new OfficeMockObject({
  associate: (name, fn) => {
    associated[name] = fn;
  },
  ErrorCode: { invalidValue: "#VALUE!", notAvailable: "#N/A", divisionByZero: "#DIV/0!", invalidNumber: "#NUM!" },
});
globalThis.CustomFunctions.Error = CustomFunctionsError;
globalThis.window = { location: { origin: baseUrl } };
globalThis.config = { customFunctionsMaxRetries: 3, customFunctionsRetryCodes: [500, 502, 503, 504], requestTimeout: 60, onWasm: false };
globalThis.getAuth = async () => ({ token: currentToken, provider: "custom" });
globalThis.socket = null;
globalThis.xlwings = { getCultureInfoName: async () => "en-US", getDateFormat: async () => "m/d/yyyy" };
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
