-- SPDX-License-Identifier: MIT
-- bench/login.lua — wrk script: POST custom-token logins of returning
-- identities to sesamed, one token per request in rotation.  The tokens
-- file (one JWT a line) is named by $SESAME_BENCH_TOKENS; the app and
-- provider by $SESAME_BENCH_APP and $SESAME_BENCH_PROVIDER.
local tokens = {}
local n = 0

local f = assert(io.open(os.getenv("SESAME_BENCH_TOKENS"), "r"))
for line in f:lines() do
	if #line > 0 then
		tokens[#tokens + 1] = '{"token":"' .. line .. '"}'
	end
end
f:close()

wrk.method = "POST"
wrk.path = "/api/client/v2.0/app/" .. os.getenv("SESAME_BENCH_APP") .. "/auth/providers/" ..
	os.getenv("SESAME_BENCH_PROVIDER") .. "/login"
wrk.headers["Content-Type"] = "application/json"

local failures = 0

request = function()
	n = n + 1
	return wrk.format(nil, nil, nil, tokens[(n % #tokens) + 1])
end

response = function(status, headers, body)
	if status ~= 200 then
		failures = failures + 1
		if failures <= 3 then
			io.stderr:write("login.lua: HTTP " .. status .. ": " .. body .. "\n")
		end
	end
end
