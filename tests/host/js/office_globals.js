// The Office, Excel and CustomFunctions globals Excel's custom-functions runtime provides, as
// office-addin-mock objects, and the xlwings globals the served code reads. One home for both
// harnesses (harness.js: request/response functions; stream.js: streaming functions).
"use strict";
const { OfficeMockObject } = require("office-addin-mock");

class CustomFunctionsError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// Installs the globals; returns the table CustomFunctions.associate fills (name -> function).
// getToken() is called on every getAuth, so a harness may change the token between calls.
function installOfficeGlobals(baseUrl, getToken) {
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
  globalThis.getAuth = async () => ({ token: getToken(), provider: "custom" });
  globalThis.xlwings = { getCultureInfoName: async () => "en-US", getDateFormat: async () => "m/d/yyyy" };
  return associated;
}

module.exports = { installOfficeGlobals, CustomFunctionsError };
