// SPDX-License-Identifier: MIT
// tests/interop/realm-web.js — sesamed driven by the App Services web SDK,
// realm-web 2.0.1 unchanged, through every auth call it has.  It starts
// nothing: tests/interop/run starts sesamed and passes its URL and secrets in
// SESAME_INTEROP_* variables.  One line per check ("ok - NAME" or
// "FAIL - NAME: why"), then "realm-web: N passed, N failed"; exit status 1
// when any check failed.
//
// Every request realm-web sends goes through a counting fetch: each SDK call
// may send at most BUDGET requests (realm-web answers a 401 InvalidSession on
// an access-token call with a refresh and a retry, without limit, so a wrong
// answer turns into a request storm); the request past the budget is not
// sent, which ends the storm and fails the check.
"use strict";

const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const { mintJwt, jwtClaims } = require("./tools.js");

const PINNED = "2.0.1";
const BUDGET = 5;
const DEADLINE_MS = 60000;
const BASE = process.env.SESAME_INTEROP_URL;
const APP_ID = process.env.SESAME_INTEROP_APP;
const ADMIN_KEY = fs.readFileSync(process.env.SESAME_INTEROP_ADMIN_KEY_FILE, "utf8");
const MAILBOX = process.env.SESAME_INTEROP_MAILBOX;
const CLIENT = `${BASE}/api/client/v2.0`;
// The end of the web redirect flow configured for oauth2-google by the runner.
const GOOGLE_REDIRECT = "http://127.0.0.1:9/interop/done";
const GOOGLE_AUTHORIZE = "http://127.0.0.1:9/authorize";
const HOSTED_LOGOUT_TEXT = "failed to find refresh token";
const CONFLICT_TEXT = "a user already exists with the specified provider";

const Realm = require("realm-web");
const realmWebVersion = require("realm-web/package.json").version;

// ---- counting requests ------------------------------------------------------

let counted = null; // the requests of the SDK call in progress

/** The fetch realm-web gets: records each request and its answer. */
async function countingFetch(url, init = {}) {
  if (!counted) throw new Error(`realm-web sent ${init.method || "GET"} ${url} outside a counted SDK call`);
  const rec = {
    method: init.method || "GET",
    url: String(url),
    headers: { ...(init.headers || {}) },
    body: typeof init.body === "string" && init.body !== "" ? JSON.parse(init.body) : undefined,
    status: 0,
    answer: undefined,
    location: null,
  };
  counted.push(rec);
  if (counted.length > BUDGET) throw new Error(`request budget of ${BUDGET} exceeded`);
  let res;
  try {
    res = await fetch(url, init);
  } catch (err) {
    rec.failure = err.cause && err.cause.message ? `${err.message}: ${err.cause.message}` : err.message;
    throw err;
  }
  rec.status = res.status;
  rec.location = res.headers.get("x-baas-location");
  const text = await res.clone().text();
  try {
    rec.answer = text === "" ? undefined : JSON.parse(text);
  } catch {
    rec.answer = text;
  }
  return res;
}

function describe(requests) {
  const outcome = (r) => r.status || (r.failure ? `no answer (${r.failure})` : "not sent");
  return requests.map((r) => `${r.method} ${r.url.replace(BASE, "")} -> ${outcome(r)}`).join("; ");
}

/**
 * Run one SDK call; its outcome and the requests it sent.  More than BUDGET
 * requests is a retry storm and throws, whatever the call returned.
 */
async function sdk(label, fn) {
  const requests = [];
  let outcome;
  counted = requests;
  try {
    outcome = { ok: true, value: await fn(), requests };
  } catch (error) {
    outcome = { ok: false, error, requests };
  } finally {
    counted = null;
  }
  if (requests.length > BUDGET)
    throw new Error(`${label}: retry storm, more than ${BUDGET} requests: ${describe(requests)}`);
  return outcome;
}

/** An SDK call that must succeed: its value and requests. */
async function must(label, fn) {
  const r = await sdk(label, fn);
  if (!r.ok) throw new Error(`${label} failed: ${r.error.message} [${describe(r.requests)}]`);
  return r;
}

/** An SDK call that must fail: its error and requests. */
async function mustFail(label, fn) {
  const r = await sdk(label, fn);
  if (r.ok) throw new Error(`${label} succeeded, expected an error [${describe(r.requests)}]`);
  return r;
}

// ---- checks ------------------------------------------------------------------

const tally = { passed: 0, failed: 0 };
const failedChecks = new Set();

async function check(name, fn, needs = []) {
  const missing = needs.filter((n) => failedChecks.has(n));
  try {
    if (missing.length) throw new Error(`cannot run: it needs "${missing.join('", "')}", which failed`);
    await fn();
    tally.passed++;
    console.log(`ok - ${name}`);
  } catch (err) {
    tally.failed++;
    failedChecks.add(name);
    console.log(`FAIL - ${name}: ${err && err.message ? err.message : err}`);
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

function eq(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a}, expected ${e}`);
}

function wantRequests(requests, expected, what) {
  const got = requests.map((r) => `${r.method} ${new URL(r.url).pathname.replace("/api/client/v2.0", "")} ${r.status}`);
  eq(got, expected, `${what}: requests`);
}

/** A realm-web error carries the status, error_code and error of sesamed's answer. */
function wantError(err, status, code, text) {
  if (status !== undefined) eq(err.statusCode, status, `status of "${err.message}"`);
  if (code !== undefined) eq(err.errorCode, code, `error_code of "${err.message}"`);
  if (text !== undefined) assert(String(err.error).includes(text), `error "${err.error}" lacks "${text}"`);
}

// ---- talking to sesamed directly (not counted: the suite's own view) ---------

async function admin(method, p, body) {
  const headers = { Authorization: `Bearer ${ADMIN_KEY}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`${BASE}/api/admin/v1${p}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function raw(method, p, token) {
  const res = await fetch(`${CLIENT}${p}`, { method, headers: { Authorization: `Bearer ${token}` } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** The JSON lines a mailbox program wrote for `email` (tests/interop/mailbox.sh). */
function mails(kind, email) {
  let text = "";
  try {
    text = fs.readFileSync(path.join(MAILBOX, kind), "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l))
    .filter((m) => m.email === email);
}

function lastMail(kind, email) {
  const all = mails(kind, email);
  assert(all.length > 0, `no ${kind} message for ${email} in the mailbox`);
  const m = all[all.length - 1];
  assert(typeof m.token === "string" && typeof m.tokenId === "string", `${kind} message without token/tokenId`);
  return m;
}

const unique = crypto.randomBytes(4).toString("hex");
const email = (who) => `${who}-${unique}@example.com`;

/** The token with the first character of its signature changed. */
function tampered(token) {
  const at = token.lastIndexOf(".") + 1;
  return token.slice(0, at) + (token[at] === "A" ? "B" : "A") + token.slice(at + 1);
}

/** A browser of its own: realm-web with the counting fetch and empty storage. */
function newApp() {
  const MemoryStorage = Realm.getEnvironment().defaultStorage.constructor;
  return new Realm.App({ id: APP_ID, baseUrl: BASE, fetch: countingFetch, storage: new MemoryStorage() });
}

const C = Realm.Credentials;
/** Credentials for a provider instance not named after its type. */
const credentialsFor = (name, type, payload) => new C(name, type, false, payload);
/** A new anonymous user every time (Credentials.anonymous() reuses one). */
const newAnonymous = () => credentialsFor("anon-user", "anon-user", {});
const confirmCredentials = (username, password) =>
  credentialsFor("userpass-confirm", "local-userpass", { username, password });

/** app.logIn as one counted SDK call. */
const logIn = (a, creds, profile = true) => must(`logIn(${creds.providerName})`, () => a.logIn(creds, profile));

/** How wantRequests lists a provider route's request. */
const providerRoute = (name, op, status) => `POST /app/${APP_ID}/auth/providers/${name}/${op} ${status}`;
const PROFILE_200 = "GET /auth/profile 200";
const providerTypes = (user) => user.identities.map((i) => i.providerType).sort();

/** A failed link's first answer: what a native SDK sees on its first attempt. */
function wantFirstAnswer(bad, status, code, text) {
  const first = bad.requests[0];
  const answer = first.answer || {};
  const what = `first answer ${first.status} ${answer.error_code} "${answer.error}"`;
  assert(status === undefined || first.status === status, `${what}, expected status ${status}`);
  assert(code === undefined || answer.error_code === code, `${what}, expected ${code}`);
  assert(String(answer.error).includes(text), `${what} lacks "${text}"`);
}

/** logOut of an ended session: one 401 with the hosted text, which realm-web ignores. */
function wantHostedLogout(r) {
  wantRequests(r.requests, ["DELETE /auth/session 401"], "logOut");
  const answer = r.requests[0].answer || {};
  assert(String(answer.error).includes(HOSTED_LOGOUT_TEXT), `answer "${answer.error}" lacks "${HOSTED_LOGOUT_TEXT}"`);
}

// Names of the checks that others need.
const ANON = "anonymous: logIn(Credentials.anonymous()) logs in and reads the profile";
const JWT = "custom JWT: logIn(Credentials.jwt()) maps the token's metadata fields into the profile";
const ANN = "email/password: registerUser() then logIn(Credentials.emailPassword())";
const RESET_CALL = "email/password: callResetPasswordFunction() runs the reset function and sets the password";
const CONFIRM = "email/password: confirmUser() with the mailed confirmation token";
const KEY = "API keys: create() answers the key once, with _id, name and disabled";

// ---- the suite ---------------------------------------------------------------

async function main() {
  const app = newApp();
  const userpass = app.emailPasswordAuth;
  const confirmAuth = new userpass.constructor(app.fetcher, "userpass-confirm");
  // A program logging in with a user's API key has an app of its own: in
  // the same app, realm-web would give the key's session to the key owner's
  // User object, in place of the owner's own tokens.
  const keyApp = newApp();
  const s = {}; // what later checks use

  await check(`realm-web ${PINNED} is installed`, async () => {
    eq(realmWebVersion, PINNED, "realm-web version in tests/interop/node_modules");
  });

  await check("location: realm-web sends every later call to the hostname sesamed names", async () => {
    const r = await must("app.locationUrl", () => app.locationUrl);
    eq(r.value, BASE, "hostname");
    wantRequests(r.requests, [`GET /app/${APP_ID}/location 200`], "location");
    eq(r.requests[0].answer.ws_hostname, BASE.replace(/^http/, "ws"), "ws_hostname");
  });

  // ---- anonymous, custom JWT, device id, sessions, profile ----
  await check(ANON, async () => {
    const r = await logIn(app, C.anonymous());
    s.anon = r.value;
    wantRequests(r.requests, [providerRoute("anon-user", "login", 200), PROFILE_200], "logIn");
    const device = r.requests[0].body.options.device;
    eq([device.platform, device.sdkVersion], ["node", PINNED], "options.device platform and sdkVersion");
    eq(s.anon.providerType, "anon-user", "providerType");
    eq(providerTypes(s.anon), ["anon-user"], "identities");
    assert(/^[0-9a-f]{24}$/.test(s.anon.id), `user id ${s.anon.id} is not 24 hex digits`);
    s.deviceId = r.requests[0].answer.device_id;
    assert(/^[0-9a-f]{24}$/.test(s.deviceId) && !/^0+$/.test(s.deviceId), `device_id ${s.deviceId}`);
  });

  await check("anonymous: a second logIn(anonymous()) reuses the logged-in anonymous user", async () => {
    const r = await logIn(app, C.anonymous());
    assert(r.value === s.anon, "a new user instead of the logged-in anonymous one");
    wantRequests(r.requests, [PROFILE_200], "logIn");
  }, [ANON]);

  const jwtSub = `interop-jwt-${unique}`;
  await check(JWT, async () => {
    const r = await logIn(app, C.jwt(mintJwt(jwtSub, { email: email("jwt"), name: "Jay Doe" })));
    s.jwt = r.value;
    s.jwtLogin = r.requests[0];
    wantRequests(r.requests, [providerRoute("custom-token", "login", 200), PROFILE_200], "logIn");
    eq(providerTypes(s.jwt), ["custom-token"], "identities");
    eq([s.jwt.profile.email, s.jwt.profile.name], [email("jwt"), "Jay Doe"], "profile email and name");
    assert(app.currentUser === s.jwt, "the new user is not the current user");
  });

  await check("device id: later logins send it back as EJSON {\"$oid\"} and sesamed keeps it", async () => {
    eq(s.jwtLogin.body.options.device.deviceId, { $oid: s.deviceId }, "options.device.deviceId sent");
    eq(s.jwtLogin.answer.device_id, s.deviceId, "device_id answered");
    eq(jwtClaims(s.jwt.accessToken).baas_device_id, s.deviceId, "baas_device_id of the access token");
  }, [ANON, JWT]);

  await check("refresh: user.refreshAccessToken() gets a new access token from the refresh token", async () => {
    const before = s.jwt.accessToken;
    const r = await must("refreshAccessToken", () => s.jwt.refreshAccessToken());
    wantRequests(r.requests, ["POST /auth/session 201"], "refreshAccessToken");
    eq(r.requests[0].headers.Authorization, `Bearer ${s.jwt.refreshToken}`, "bearer");
    assert(s.jwt.accessToken !== before, "the access token did not change");
    eq(jwtClaims(s.jwt.accessToken).sub, s.jwt.id, "sub of the new access token");
  }, [JWT]);

  await check("custom data: user.refreshCustomData() shows what the admin API wrote", async () => {
    eq(s.jwt.customData, {}, "custom data before any was written");
    const data = { favorite_color: "teal", level: 3 };
    eq((await admin("PUT", `/users/${s.jwt.id}/custom_data`, data)).status, 200, "admin PUT custom_data status");
    const r = await must("refreshCustomData", () => s.jwt.refreshCustomData());
    wantRequests(r.requests, ["POST /auth/session 201"], "refreshCustomData");
    eq(r.value, data, "custom data");
  }, [JWT]);

  await check("profile: user.refreshProfile() reads the type, identities and data", async () => {
    const r = await must("refreshProfile", () => s.jwt.refreshProfile());
    wantRequests(r.requests, [PROFILE_200], "refreshProfile");
    const p = r.requests[0].answer;
    eq([p.user_id, p.type], [s.jwt.id, "normal"], "user_id and type");
    eq(p.identities.map((i) => [i.id, i.provider_type]), [[jwtSub, "custom-token"]], "identities");
    for (const [k, v] of Object.entries(p.data)) eq(typeof v, "string", `type of data.${k}`);
  }, [JWT]);

  await check("refresh on 401: an access token sesamed refuses is refreshed once and the call retried", async () => {
    s.jwt.accessToken = tampered(s.jwt.accessToken);
    const r = await must("refreshProfile", () => s.jwt.refreshProfile());
    wantRequests(r.requests, ["GET /auth/profile 401", "POST /auth/session 201", PROFILE_200], "refreshProfile");
    eq(r.requests[0].answer.error_code, "InvalidSession", "error_code of the refused token");
  }, [JWT]);

  // ---- custom function ----
  await check("function: logIn(Credentials.function()) logs in with the program's id", async () => {
    const r = await logIn(app, C.function({ username: `fn-${unique}` }));
    wantRequests(r.requests, [providerRoute("custom-function", "login", 200), PROFILE_200], "logIn");
    eq(r.value.identities.map((i) => [i.id, i.providerType]), [[`fn-fn-${unique}`, "custom-function"]], "identities");
  });

  await check("function: EJSON numbers of the payload reach the program as plain JSON numbers", async () => {
    const r = await logIn(app, C.function({ username: `pin-${unique}`, pin: 4711 }), false);
    eq(r.requests[0].body.pin, { $numberInt: "4711" }, "pin as realm-web sends it");
    eq(r.value.id, r.requests[0].answer.user_id, "user id");
  });

  await check("metadata_fields: a custom-function instance maps the program's name into the profile", async () => {
    const r = await logIn(app, credentialsFor("function-metadata", "custom-function", { username: `meta-${unique}` }));
    eq(r.value.profile.name, `meta-${unique}`, "profile name");
  });

  // ---- email/password: the auto-confirmed instance named after its type ----
  const ann = email("ann");
  let annPassword = "open-sesame-1";
  await check(ANN, async () => {
    const reg = await must("registerUser", () => userpass.registerUser({ email: ann, password: annPassword }));
    wantRequests(reg.requests, [providerRoute("local-userpass", "register", 201)], "registerUser");
    const r = await logIn(app, C.emailPassword(ann, annPassword));
    s.ann = r.value;
    eq(providerTypes(s.ann), ["local-userpass"], "identities");
    eq(s.ann.profile.email, ann, "profile email");
  });

  await check("email/password: a wrong password is refused with one 401 and no retry", async () => {
    const r = await mustFail("logIn(emailPassword)", () => app.logIn(C.emailPassword(ann, "wrong-password")));
    wantRequests(r.requests, [providerRoute("local-userpass", "login", 401)], "logIn");
    wantError(r.error, 401, "InvalidPassword", "invalid username/password");
  }, [ANN]);

  await check("email/password: sendResetPasswordEmail() and resetPassword() with the mailed token", async () => {
    const send = await must("sendResetPasswordEmail", () => userpass.sendResetPasswordEmail({ email: ann }));
    wantRequests(send.requests, [providerRoute("local-userpass", "reset/send", 200)], "reset/send");
    const m = lastMail("reset", ann);
    const next = "open-sesame-2";
    const reset = await must("resetPassword", () =>
      userpass.resetPassword({ token: m.token, tokenId: m.tokenId, password: next }),
    );
    wantRequests(reset.requests, [providerRoute("local-userpass", "reset", 200)], "reset");
    const old = await mustFail("logIn(old password)", () => app.logIn(C.emailPassword(ann, annPassword)));
    wantError(old.error, 401);
    annPassword = next;
    const r = await logIn(app, C.emailPassword(ann, annPassword));
    assert(r.value === s.ann, "a new user object for the same account");
  }, [ANN]);

  await check(RESET_CALL, async () => {
    const next = "open-sesame-3";
    const r = await must("callResetPasswordFunction", () =>
      userpass.callResetPasswordFunction({ email: ann, password: next }, "sesame", 42),
    );
    wantRequests(r.requests, [providerRoute("local-userpass", "reset/call", 200)], "reset/call");
    s.resetCall = { sent: r.requests[0].body, got: lastMail("reset-call", ann) };
    annPassword = next;
    await logIn(app, C.emailPassword(ann, annPassword));
  }, [ANN]);

  await check("email/password: the reset function gets its arguments decoded from EJSON", async () => {
    eq(s.resetCall.sent.arguments, ["sesame", { $numberInt: "42" }], "arguments as realm-web sends them");
    eq(s.resetCall.got.arguments, ["sesame", 42], "arguments the reset function got");
  }, [RESET_CALL]);

  // ---- email/password: the instance that mails confirmations ----
  const bob = email("bob");
  await check(CONFIRM, async () => {
    await must("registerUser", () => confirmAuth.registerUser({ email: bob, password: "bobs-password" }));
    const pending = await mustFail("logIn(pending)", () => app.logIn(confirmCredentials(bob, "bobs-password")));
    eq(pending.requests.length, 1, "requests of a refused login");
    const m = lastMail("confirm", bob);
    const r = await must("confirmUser", () => confirmAuth.confirmUser({ token: m.token, tokenId: m.tokenId }));
    wantRequests(r.requests, [providerRoute("userpass-confirm", "confirm", 200)], "confirm");
    await logIn(app, confirmCredentials(bob, "bobs-password"));
  });

  await check("email/password: resendConfirmationEmail() mails a new token that confirms", async () => {
    const cy = email("cy");
    await must("registerUser", () => confirmAuth.registerUser({ email: cy, password: "cys-password" }));
    const first = lastMail("confirm", cy);
    const r = await must("resendConfirmationEmail", () => confirmAuth.resendConfirmationEmail({ email: cy }));
    wantRequests(r.requests, [providerRoute("userpass-confirm", "confirm/send", 200)], "confirm/send");
    const second = lastMail("confirm", cy);
    assert(second.tokenId !== first.tokenId, "the resent confirmation carries the same token");
    await must("confirmUser", () => confirmAuth.confirmUser({ token: second.token, tokenId: second.tokenId }));
    await logIn(app, confirmCredentials(cy, "cys-password"), false);
  });

  await check("email/password: retryCustomConfirmation() runs the confirmation function", async () => {
    const di = email("di");
    await must("registerUser", () => confirmAuth.registerUser({ email: di, password: "dis-password" }));
    const r = await must("retryCustomConfirmation", () => confirmAuth.retryCustomConfirmation({ email: di }));
    wantRequests(r.requests, [providerRoute("userpass-confirm", "confirm/call", 200)], "confirm/call");
    assert(mails("confirm-call", di).length === 1, "the confirmation function did not run once");
    await logIn(app, confirmCredentials(di, "dis-password"), false);
  });

  await check("email/password: resending the confirmation of a confirmed address is a 400 \"already confirmed\"",
    async () => {
      const r = await mustFail("resendConfirmationEmail", () => confirmAuth.resendConfirmationEmail({ email: bob }));
      eq(r.requests.length, 1, "requests");
      wantError(r.error, 400, undefined, "already confirmed");
    }, [CONFIRM]);

  // ---- API keys (ann's, with her refresh token) ----
  await check(KEY, async () => {
    const r = await must("apiKeys.create", () => s.ann.apiKeys.create("interop-key"));
    wantRequests(r.requests, ["POST /auth/api_keys 201"], "create");
    eq(r.requests[0].headers.Authorization, `Bearer ${s.ann.refreshToken}`, "bearer (the refresh token)");
    s.key = r.value;
    eq([typeof s.key._id, s.key.name, s.key.disabled], ["string", "interop-key", false], "_id, name, disabled");
    assert(typeof s.key.key === "string" && s.key.key.length >= 32, "no key in the answer");
  }, [ANN]);

  await check("API keys: fetch() and fetchAll() show the key without its secret", async () => {
    const one = await must("apiKeys.fetch", () => s.ann.apiKeys.fetch(s.key._id));
    wantRequests(one.requests, [`GET /auth/api_keys/${s.key._id} 200`], "fetch");
    const k = one.value;
    eq([k._id, k.name, k.disabled, k.key], [s.key._id, "interop-key", false, undefined], "key");
    const all = await must("apiKeys.fetchAll", () => s.ann.apiKeys.fetchAll());
    wantRequests(all.requests, ["GET /auth/api_keys 200"], "fetchAll");
    eq(all.value.map((x) => [x._id, x.key]), [[s.key._id, undefined]], "keys");
  }, [KEY]);

  await check("API keys: disable() makes the key's login fail, enable() makes it work as its user", async () => {
    const off = await must("apiKeys.disable", () => s.ann.apiKeys.disable(s.key._id));
    wantRequests(off.requests, [`PUT /auth/api_keys/${s.key._id}/disable 204`], "disable");
    const refused = await mustFail("logIn(disabled key)", () => keyApp.logIn(C.apiKey(s.key.key), false));
    wantError(refused.error, 401, "AuthError");
    const on = await must("apiKeys.enable", () => s.ann.apiKeys.enable(s.key._id));
    wantRequests(on.requests, [`PUT /auth/api_keys/${s.key._id}/enable 204`], "enable");
    const r = await logIn(keyApp, C.apiKey(s.key.key), false);
    eq(r.value.id, s.ann.id, "user of the key");
  }, [KEY]);

  await check("API keys: delete() ends the key; fetching it then is 404 APIKeyNotFound", async () => {
    const del = await must("apiKeys.delete", () => s.ann.apiKeys.delete(s.key._id));
    wantRequests(del.requests, [`DELETE /auth/api_keys/${s.key._id} 204`], "delete");
    const refused = await mustFail("logIn(deleted key)", () => keyApp.logIn(C.apiKey(s.key.key), false));
    wantError(refused.error, 401, "AuthError");
    const gone = await mustFail("apiKeys.fetch", () => s.ann.apiKeys.fetch(s.key._id));
    wantError(gone.error, 404, "APIKeyNotFound");
  }, [KEY]);

  await check("API keys: a name with spaces is refused with 400 InvalidParameter", async () => {
    const r = await mustFail("apiKeys.create", () => s.ann.apiKeys.create("my key"));
    eq(r.requests.length, 1, "requests");
    wantError(r.error, 400, "InvalidParameter");
  }, [ANN]);

  await check("API keys: an anonymous user cannot create one", async () => {
    const r = await mustFail("apiKeys.create", () => s.anon.apiKeys.create("anon-key"));
    eq(r.requests.length, 1, "requests");
    const status = r.error.statusCode;
    assert(status >= 400 && status < 500 && status !== 401, `status ${status}, expected a 4xx other than 401`);
  }, [ANON]);

  // ---- linking ----
  const eve = email("eve");
  await check("link: an anonymous user registers, links email/password and keeps its id", async () => {
    s.upgraded = (await logIn(app, newAnonymous())).value;
    await must("registerUser", () => userpass.registerUser({ email: eve, password: "eves-password" }));
    const before = s.upgraded.accessToken;
    const r = await must("linkCredentials(emailPassword)", () =>
      s.upgraded.linkCredentials(C.emailPassword(eve, "eves-password")),
    );
    wantRequests(r.requests, [providerRoute("local-userpass", "login", 200), PROFILE_200], "link");
    eq(new URL(r.requests[0].url).search, "?link=true", "link query");
    eq(r.requests[0].headers.Authorization, `Bearer ${before}`, "bearer (the access token)");
    eq(providerTypes(s.upgraded), ["anon-user", "local-userpass"], "identities");
    const again = await logIn(app, C.emailPassword(eve, "eves-password"));
    eq(again.value.id, s.upgraded.id, "user of the email/password login");
  });

  await check("link: the link answer's access token belongs to the caller's session (links open no session)",
    async () => {
      const u = (await logIn(app, newAnonymous())).value;
      const r = await must("linkCredentials(jwt)", () => u.linkCredentials(C.jwt(mintJwt(`linked-${unique}`))));
      wantRequests(r.requests, [providerRoute("custom-token", "login", 200), PROFILE_200], "link");
      eq(providerTypes(u), ["anon-user", "custom-token"], "identities");
      const linkAccess = u.accessToken;
      eq((await raw("DELETE", "/auth/session", u.refreshToken)).status, 204, "logout status");
      const after = await raw("GET", "/auth/profile", linkAccess);
      eq(after.status, 401, "profile with the link's access token after its session's logout");
    });

  await check("link: a second email/password identity is refused", async () => {
    const fay = email("fay");
    await must("registerUser", () => userpass.registerUser({ email: fay, password: "fays-password" }));
    const bad = await mustFail("linkCredentials(second emailPassword)", () =>
      s.ann.linkCredentials(C.emailPassword(fay, "fays-password")),
    );
    wantFirstAnswer(bad, undefined, undefined, "linking a local-userpass identity is not allowed");
  }, [ANN]);

  await check("link: an anonymous identity cannot be linked (400)", async () => {
    const bad = await mustFail("linkCredentials(anonymous)", () => s.ann.linkCredentials(C.anonymous()));
    wantError(bad.error, 400, undefined, "linking an anonymous identity is not allowed");
  }, [ANN]);

  await check("link conflict: a custom JWT identity of another user ends in an error, no request storm", async () => {
    const u = (await logIn(app, newAnonymous())).value;
    const bad = await mustFail("linkCredentials(another user's jwt)", () => u.linkCredentials(C.jwt(mintJwt(jwtSub))));
    wantFirstAnswer(bad, 401, "InvalidSession", CONFLICT_TEXT);
    const owner = await logIn(app, C.jwt(mintJwt(jwtSub)), false);
    eq(owner.value.id, s.jwt.id, "the identity's user after the refused link");
  }, [JWT]);

  await check("link conflict: an email/password identity of another user ends in an error, no request storm",
    async () => {
      const u = (await logIn(app, newAnonymous())).value;
      const bad = await mustFail("linkCredentials(another user's emailPassword)", () =>
        u.linkCredentials(C.emailPassword(ann, annPassword)),
      );
      wantFirstAnswer(bad, 401, "InvalidSession", CONFLICT_TEXT);
    }, [ANN]);

  await check("link via the web redirect flow: providerRedirectHeader=true gets the provider URL in X-Baas-Location",
    async () => {
      const env = Realm.getEnvironment();
      const opened = [];
      // The flow's browser window: record where realm-web sends it, then
      // report it closed, which ends linkCredentials with "Window closed".
      Realm.setEnvironment({ ...env, openWindow: (u) => (opened.push(u), { closed: true, close() {} }) });
      let webApp;
      try {
        webApp = newApp();
      } finally {
        Realm.setEnvironment(env);
      }
      const u = (await logIn(webApp, C.anonymous(), false)).value;
      const r = await sdk("linkCredentials(google redirect)", () =>
        u.linkCredentials(C.google({ redirectUrl: GOOGLE_REDIRECT })),
      );
      eq(r.requests.length, 1, `requests [${describe(r.requests)}]`);
      const q = new URL(r.requests[0].url).searchParams;
      eq([q.get("link"), q.get("providerRedirectHeader"), q.get("redirect")], ["true", "true", GOOGLE_REDIRECT],
        "query");
      // A 302 instead is followed by fetch, to a port fetch refuses (9).
      const status = r.requests[0].status;
      assert(status >= 200 && status < 300, `answer ${describe(r.requests)}, expected a 2xx with X-Baas-Location`);
      assert(opened.length === 1 && opened[0] === r.requests[0].location, `window opened at ${opened}`);
      assert(String(opened[0]).startsWith(`${GOOGLE_AUTHORIZE}?`), `X-Baas-Location ${opened[0]}`);
      assert(!r.ok && r.error.message === "Window closed", `link ended with ${r.ok ? "success" : r.error.message}`);
    });

  // ---- several users, logging out, deleting ----
  await check("several users: switchUser() chooses who the calls go out as", async () => {
    const ids = Object.keys(app.allUsers);
    assert(ids.length >= 3, `only ${ids.length} users known to the app`);
    app.switchUser(s.jwt);
    assert(app.currentUser === s.jwt, "currentUser is not the user switched to");
    const r = await must("currentUser.refreshProfile", () => app.currentUser.refreshProfile());
    eq(jwtClaims(r.requests[0].headers.Authorization.slice(7)).sub, s.jwt.id, "sub of the bearer");
    app.switchUser(s.ann);
    assert(app.currentUser === s.ann, "currentUser is not the user switched to");
  }, [JWT, ANN]);

  await check("several users: removeUser() logs the user out and forgets it", async () => {
    const refresh = s.jwt.refreshToken;
    const r = await must("removeUser", () => app.removeUser(s.jwt));
    wantRequests(r.requests, ["DELETE /auth/session 204"], "removeUser");
    eq(s.jwt.state, Realm.UserState.Removed, "state");
    assert(!(s.jwt.id in app.allUsers), "the removed user is still known to the app");
    eq((await raw("POST", "/auth/session", refresh)).status, 401, "refresh with the removed user's token");
  }, [JWT]);

  await check("logOut: ends the session on the server", async () => {
    const refresh = s.ann.refreshToken;
    const r = await must("logOut", () => s.ann.logOut());
    wantRequests(r.requests, ["DELETE /auth/session 204"], "logOut");
    eq(s.ann.state, Realm.UserState.LoggedOut, "state");
    eq((await raw("POST", "/auth/session", refresh)).status, 401, "refresh after logOut");
  }, [ANN]);

  await check("logOut of an anonymous user deletes the user", async () => {
    const r = await must("logOut", () => s.anon.logOut());
    wantRequests(r.requests, ["DELETE /auth/session 204"], "logOut");
    eq((await admin("GET", `/users/${s.anon.id}`)).status, 404, "admin GET of the anonymous user");
  }, [ANON]);

  await check("logOut after an admin logout resolves (the hosted answer for an ended session)", async () => {
    const u = (await logIn(app, C.emailPassword(ann, annPassword), false)).value;
    eq((await admin("PUT", `/users/${u.id}/logout`)).status, 204, "admin logout");
    wantHostedLogout(await must("logOut", () => u.logOut()));
  }, [ANN]);

  await check("logOut after a password reset ended the session resolves", async () => {
    const u = (await logIn(app, C.emailPassword(ann, annPassword), false)).value;
    await must("sendResetPasswordEmail", () => userpass.sendResetPasswordEmail({ email: ann }));
    const m = lastMail("reset", ann);
    const next = "open-sesame-4";
    await must("resetPassword", () => userpass.resetPassword({ token: m.token, tokenId: m.tokenId, password: next }));
    annPassword = next;
    wantHostedLogout(await must("logOut", () => u.logOut()));
  }, [ANN]);

  await check("logOut after the admin disabled the user resolves", async () => {
    const u = (await logIn(app, C.jwt(mintJwt(`disabled-${unique}`)), false)).value;
    eq((await admin("PUT", `/users/${u.id}/disable`)).status, 204, "admin disable");
    wantHostedLogout(await must("logOut", () => u.logOut()));
  });

  await check("deleteUser: deletes the account, logs out and resolves", async () => {
    const u = (await logIn(app, C.emailPassword(ann, annPassword), false)).value;
    app.switchUser(u);
    const r = await must("deleteUser", () => app.deleteUser(u));
    wantRequests(r.requests, ["DELETE /auth/delete 204", "DELETE /auth/session 401"], "deleteUser");
    assert(!(u.id in app.allUsers), "the deleted user is still known to the app");
    eq((await admin("GET", `/users/${u.id}`)).status, 404, "admin GET of the deleted user");
  }, [ANN]);
}

const deadline = setTimeout(() => {
  console.log(`FAIL - the suite finished within ${DEADLINE_MS / 1000} s: it did not`);
  console.log(`realm-web: ${tally.passed} passed, ${tally.failed + 1} failed`);
  process.exit(1);
}, DEADLINE_MS);

main()
  .catch((err) => {
    tally.failed++;
    console.log(`FAIL - the suite ran to its end: ${err && err.stack ? err.stack : err}`);
  })
  .finally(() => {
    clearTimeout(deadline);
    console.log(`realm-web: ${tally.passed} passed, ${tally.failed} failed`);
    process.exit(tally.failed ? 1 : 0);
  });
