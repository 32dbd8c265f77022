// Runs the streaming custom functions the clearquote server serves, as Excel's runtime would:
// the served custom-functions code, Office globals from office-addin-mock, and a real socket.io
// client (socket.io-client, the library the task pane loads) connected to the server.
//
// Usage: node stream.js BASE_URL TOKEN
// Reads one JSON command a line on stdin:
//   {"op": "call", "cell": "A1", "fn": "LIVE_MARKET", "args": [...]}   invoke a streaming function
//   {"op": "cancel", "cell": "A1"}                                      the cell is deleted (onCanceled)
//   {"op": "listen", "event": "xlwings:set-result-..."}                  listen on an event without calling
//   {"op": "emit", "event": "...", "data": ...}                          a raw event, as a hostile client sends it
//   {"op": "disconnect"} / {"op": "exit"}
// Writes one JSON line per thing that happens: {"connect": true}, {"connect_error": message},
// {"cell": "A1", "result": rows}, {"event": name, "data": ...}, {"disconnect": reason}.
"use strict";
const { installOfficeGlobals } = require("./office_globals");
const { io } = require("socket.io-client");
const readline = require("readline");
const vm = require("vm");

const [baseUrl, token] = process.argv.slice(2);
const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const associated = installOfficeGlobals(baseUrl, () => token);

// As the task pane's socketio.js opens it (path, transports, auth callback), with Node's client.
const socket = io(baseUrl, {
  path: "/socket.io/",
  transports: ["websocket"],
  reconnection: false,
  auth: async (callback) => {
    const a = await globalThis.getAuth();
    callback({ token: a.token, provider: a.provider });
  },
});
globalThis.socket = socket;
socket.on("connect", () => say({ connect: true }));
socket.on("connect_error", (e) => say({ connect_error: String(e && e.message ? e.message : e) }));
socket.on("disconnect", (reason) => say({ disconnect: reason }));

const cells = {};

async function main() {
  const code = await (await fetch(`${baseUrl}/xlwings/custom-functions-code`)).text();
  vm.runInThisContext(code, { filename: "custom-functions-code.js" });
  say({ ready: Object.keys(associated).length });
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (!line.trim()) continue;
    const cmd = JSON.parse(line);
    if (cmd.op === "call") {
      const fn = associated[cmd.fn];
      if (!fn) {
        say({ cell: cmd.cell, error: `not associated: ${cmd.fn}` });
        continue;
      }
      const invocation = {
        address: undefined, // Office.js gives streaming functions no address
        setResult: (result) => say({ cell: cmd.cell, result: result }),
      };
      cells[cmd.cell] = invocation;
      try {
        await fn(...cmd.args, invocation);
      } catch (e) {
        say({ cell: cmd.cell, error: String(e.message || e) });
      }
    } else if (cmd.op === "cancel") {
      const invocation = cells[cmd.cell];
      if (invocation && invocation.onCanceled) invocation.onCanceled();
      delete cells[cmd.cell];
      say({ cancelled: cmd.cell });
    } else if (cmd.op === "emit") {
      socket.emit(cmd.event, cmd.data);
      say({ emitted: cmd.event });
    } else if (cmd.op === "listen") {
      socket.on(cmd.event, (data) => say({ event: cmd.event, data: data }));
      say({ listening: cmd.event });
    } else if (cmd.op === "disconnect") {
      socket.disconnect();
    } else if (cmd.op === "exit") {
      break;
    }
  }
  socket.close();
  process.exit(0);
}
main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
  process.exit(1);
});
