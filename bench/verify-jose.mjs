// SPDX-License-Identifier: MIT
// bench/verify-jose.mjs — node jose's jwtVerify on one token with an imported
// key, for bench/verify: prints tokens/s after running for SECONDS.
//   node verify-jose.mjs TOKEN.json SECONDS
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

// jose is installed by scripts/bench into build/bench/node_modules.
const require = createRequire(join(process.env.SESAME_BENCH_NODE_DIR || process.cwd(), 'x.js'));
const jose = await import(require.resolve('jose'));

const [, , file, secs] = process.argv;
const t = JSON.parse(readFileSync(file, 'utf8'));
const seconds = Number(secs);
let key;
if (t.alg === 'HS256') key = new TextEncoder().encode(t.key);
else key = await jose.importSPKI(t.key, t.alg);
const opts = { audience: t.aud, issuer: t.iss, algorithms: [t.alg] };

// Check, then warm the JIT up before timing (as a long-running server is).
await jose.jwtVerify(t.token, key, opts);
const warm = process.hrtime.bigint() + BigInt(Math.round(Math.min(seconds, 0.3) * 1e9));
while (process.hrtime.bigint() < warm) await jose.jwtVerify(t.token, key, opts);
const start = process.hrtime.bigint();
const end = start + BigInt(Math.round(seconds * 1e9));
let n = 0;
let now = start;
while (now < end) {
	for (let i = 0; i < 16; i++) await jose.jwtVerify(t.token, key, opts);
	n += 16;
	now = process.hrtime.bigint();
}
console.log((n / (Number(now - start) / 1e9)).toFixed(0));
