// SPDX-License-Identifier: MIT
// tests/interop/tools.js — small helpers of the interop suite, as a module
// (realm-web.js) and as a command for realm-core.sh, which has no JSON tool
// of its own:
//   node tools.js pick VAR=PATH...  shell assignments VAR='value' of the
//                                members at PATH (dots, array indexes:
//                                identities.0.id) of the JSON on stdin:
//                                strings raw, anything else as JSON, '' when
//                                missing or when stdin is not JSON
//   node tools.js mint SUB [JSON]  an HS256 JWT for the custom-token
//                                provider: sub, aud (the app id), iat, exp,
//                                plus the members of JSON
//   node tools.js claims TOKEN PATH  the claim at PATH of a JWT, unverified,
//                                as pick prints it (raw string or JSON)
// The JWT secret is read from $SESAME_INTEROP_JWT_SECRET_FILE, the app id
// from $SESAME_INTEROP_APP (both set by tests/interop/run).
"use strict";

const crypto = require("crypto");
const fs = require("fs");

/** The member of `value` at the dotted `path`, or undefined. */
function dig(value, path) {
  if (path === "" || path === ".") return value;
  for (const part of path.split(".")) {
    if (value === null || typeof value !== "object" || !(part in value)) return undefined;
    value = value[part];
  }
  return value;
}

/** An HS256 JWT for `sub` with the suite's custom-token secret. */
function mintJwt(sub, extra = {}) {
  const secret = fs.readFileSync(process.env.SESAME_INTEROP_JWT_SECRET_FILE, "utf8");
  const now = Math.floor(Date.now() / 1000);
  const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString("base64url");
  const head = b64({ alg: "HS256", kid: "interop", typ: "JWT" });
  const body = b64({ sub, aud: process.env.SESAME_INTEROP_APP, iat: now, exp: now + 600, ...extra });
  const sig = crypto.createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

/** The claims of a JWT, not verified (clients read them the same way). */
function jwtClaims(token) {
  const parts = String(token).split(".");
  if (parts.length !== 3) throw new Error("not a JWT: expected three parts");
  return JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
}

/** A member as the shell sees it: strings raw, other values as JSON. */
function text(value) {
  if (value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** `value` quoted for a POSIX shell. */
function shellQuote(value) {
  return `'${value.replace(/'/g, "'\\''")}'`;
}

module.exports = { dig, mintJwt, jwtClaims };

if (require.main === module) {
  const [cmd, ...args] = process.argv.slice(2);
  try {
    if (cmd === "pick" && args.length > 0) {
      let doc;
      try {
        doc = JSON.parse(fs.readFileSync(0, "utf8"));
      } catch {
        doc = undefined;
      }
      for (const arg of args) {
        const m = /^([a-z_][a-z0-9_]*)=(.*)$/.exec(arg);
        if (!m) throw new Error(`"${arg}" is not VAR=PATH with a lowercase shell variable name`);
        process.stdout.write(`${m[1]}=${shellQuote(text(dig(doc, m[2])))}\n`);
      }
    } else if (cmd === "mint" && (args.length === 1 || args.length === 2)) {
      process.stdout.write(mintJwt(args[0], args[1] ? JSON.parse(args[1]) : {}));
    } else if (cmd === "claims" && args.length === 2) {
      process.stdout.write(text(dig(jwtClaims(args[0]), args[1])));
    } else {
      process.stderr.write("usage: tools.js pick VAR=PATH... | mint SUB [JSON] | claims TOKEN PATH\n");
      process.exit(2);
    }
  } catch (err) {
    process.stderr.write(`tools.js ${cmd}: ${err.message}\n`);
    process.exit(1);
  }
}
