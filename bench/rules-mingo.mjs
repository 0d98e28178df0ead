// SPDX-License-Identifier: MIT
// bench/rules-mingo.mjs — the rules of bench/rules decided the way a
// JavaScript backend would: %%user substituted into each role's
// apply_when, the result matched with mingo, field permissions applied.
// Prints decisions/s after running for SECONDS.
//   node rules-mingo.mjs DIR request|cached SECONDS
//     request: the queries are built for the user on every decision
//              (a server handling one request at a time);
//     cached:  built once (the user's queries kept between requests).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

// mingo is installed by scripts/bench into build/bench/node_modules.
const require = createRequire(join(process.env.SESAME_BENCH_NODE_DIR || process.cwd(), 'x.js'));
const mingo = await import(require.resolve('mingo'));
const Query = mingo.Query || mingo.default.Query;

const [, , dir, mode, secs] = process.argv;
const rules = JSON.parse(readFileSync(join(dir, 'rules-bench.json'), 'utf8'));
const user = JSON.parse(readFileSync(join(dir, 'rules-user.json'), 'utf8'));
const doc = JSON.parse(readFileSync(join(dir, 'rules-doc.json'), 'utf8'));
const seconds = Number(secs);

const get = (obj, path) => path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);

// An App Services expression as a mingo query on {root, this, prev, user}.
function translate(e) {
	if (typeof e === 'string' && e.startsWith('%%user')) return get(user, e.slice(7));
	if (typeof e === 'string' && e === '%%true') return true;
	if (typeof e === 'string' && e === '%%false') return false;
	if (Array.isArray(e)) return e.map(translate);
	if (e === null || typeof e !== 'object') return e;
	const q = {};
	for (const [k, v] of Object.entries(e)) {
		let key = k;
		if (k.startsWith('%%user')) key = 'user' + k.slice(6);
		else if (k.startsWith('%%root')) key = 'root' + k.slice(6);
		else if (k === '%%this' || k === '%%prev') key = k.slice(2);
		else if (k.startsWith('%')) key = '$' + k.slice(1);
		else if (!k.startsWith('$')) key = 'root.' + k;
		q[key] = k.startsWith('%') || k.startsWith('$') ? translateOps(v) : translate(v);
	}
	return q;
}
function translateOps(v) {
	if (Array.isArray(v)) return v.map((x) => (x && typeof x === 'object' ? translate(x) : translate(x)));
	if (v && typeof v === 'object') {
		const o = {};
		for (const [k, w] of Object.entries(v)) o[k.startsWith('%') ? '$' + k.slice(1) : k] = translate(w);
		return o;
	}
	return translate(v);
}
const perm = (p) => (p === undefined ? false : typeof p === 'boolean' ? p : new Query(translate(p)));
const holds = (p, ctx) => (typeof p === 'boolean' ? p : p.test(ctx));

function compile() {
	return rules.roles.map((r) => ({
		name: r.name,
		apply: r.apply_when ? new Query(translate(r.apply_when)) : true,
		read: perm(r.read),
		write: perm(r.write),
		fields: Object.fromEntries(
			Object.entries(r.fields || {}).map(([f, p]) => [f, { read: perm(p.read), write: perm(p.write) }]),
		),
		more: { read: perm((r.additional_fields || {}).read), write: perm((r.additional_fields || {}).write) },
	}));
}

function decide(roles, d) {
	const ctx = { root: d, user };
	for (const r of roles) {
		if (!holds(r.apply, ctx)) continue;
		const dw = holds(r.write, ctx), dr = dw || holds(r.read, ctx);
		const fields = {}, out = {};
		for (const [k, v] of Object.entries(d)) {
			const fp = r.fields[k] || r.more;
			const fctx = { root: d, user, this: v, prev: v };
			const w = dw || holds(fp.write, fctx), rd = dr || w || holds(fp.read, fctx);
			fields[k] = { read: rd, write: w };
			if (rd) out[k] = v;
		}
		return { allowed: Object.keys(out).length > 0, role: r.name, fields, document: out };
	}
	return { allowed: false, role: null, fields: {}, document: {} };
}

let cached = compile();
const once = () => decide(mode === 'cached' ? cached : compile(), doc);
if (once().role !== 'owner') throw new Error('the owner role must apply');
const warm = process.hrtime.bigint() + BigInt(Math.round(Math.min(seconds, 0.3) * 1e9));
while (process.hrtime.bigint() < warm) once();
const start = process.hrtime.bigint();
const end = start + BigInt(Math.round(seconds * 1e9));
let n = 0;
let now = start;
while (now < end) {
	for (let i = 0; i < 16; i++) once();
	n += 16;
	now = process.hrtime.bigint();
}
console.log((n / (Number(now - start) / 1e9)).toFixed(0));
