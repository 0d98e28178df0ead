#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/interop/realm-core.sh — sesamed driven by requests shaped like those
# of realm-core, the shared core of the native App Services SDKs (app.cpp,
# app_credentials.cpp): "Content-Type: application/json;charset=utf-8" and
# "Accept: application/json" on every call but location, "provider" in login
# bodies (not for functions), the whole options.device object, canonical
# EJSON for function payloads and call arguments, access or refresh bearer
# tokens per call, and on a 401 one refresh and one retry of an access-token
# call, or the user's logout on a refresh-token call.  It starts nothing:
# tests/interop/run starts sesamed and sets SESAME_INTEROP_*.  One line per
# check ("ok - NAME" or "FAIL - NAME: why"), then "realm-core: N passed,
# N failed"; exit status 1 when any check failed.  JSON is read with
# tools.js (node), as jq is not everywhere.
# Most variables the checks read are set by pick, through eval.
# shellcheck disable=SC2154
set -u

base=$SESAME_INTEROP_URL
app=$SESAME_INTEROP_APP
tools=$SESAME_INTEROP_TOOLS
mailbox=$SESAME_INTEROP_MAILBOX
client=$base/api/client/v2.0
auth=$client/app/$app/auth
conflict="a user already exists with the specified provider"
hosted_logout="invalid session: failed to find refresh token"
# What realm-core's attach_auth_options() adds to every login body.
device='{"appId":"'$app'","platform":"Linux","platformVersion":"6.1.0","sdk":"Cpp","sdkVersion":"1.0.0",'\
'"cpuArch":"x86_64","deviceName":"interop","deviceVersion":"1","frameworkName":"","frameworkVersion":"",'\
'"coreVersion":"14.10.0","bundleId":"org.sesame.interop"}'
unique=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')

work=$(mktemp -d "${TMPDIR:-/tmp}/realm-core.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ---- checks -------------------------------------------------------------------

passed=0
failed=0
name=""
why=""
begin() {
	name=$1
	why=""
}
flunk() { [ -n "$why" ] || why=$1; }
end() {
	if [ -z "$why" ]; then
		passed=$((passed + 1))
		echo "ok - $name"
	else
		failed=$((failed + 1))
		echo "FAIL - $name: $why"
	fi
}

# pick VAR=PATH...: set each VAR to the member at PATH of the last answer
# (strings raw, other values as JSON, empty when missing), in one node run.
pick() { eval "$(printf '%s' "$body" | node "$tools" pick "$@")"; }

want_status() {
	[ "$status" = "$1" ] || flunk "$last answered $status, expected $1: $body"
}
want_eq() {
	[ "$1" = "$2" ] || flunk "$3: got \"$1\", expected \"$2\""
}
want_in() {
	case "$1" in
	*"$2"*) ;;
	*) flunk "$3 \"$1\" lacks \"$2\"" ;;
	esac
}
# want_error STATUS CODE TEXT: the App Services error body.
want_error() {
	want_status "$1"
	[ -z "$why" ] || return 0
	pick e_code=error_code e_text=error
	want_eq "$e_code" "$2" "error_code of $last"
	want_in "$e_text" "$3" "error of $last"
}

# ---- requests as realm-core sends them ----------------------------------------

requests=0
# send METHOD URL [BEARER [BODY]]: $status, $body and $last (what was sent).
# The bearer goes through a curl config file, not argv.
send() {
	last="$1 ${2#"$base"}"
	set -- "$1" "$2" "${3:-}" "${4:-}"
	if [ -n "$3" ]; then
		printf 'header "Authorization: Bearer %s"\n' "$3" >"$work/auth"
	else
		: >"$work/auth"
	fi
	if [ "$1" = GET ]; then
		status=$(curl -sS -o "$work/body" -w '%{http_code}' --max-time 20 -K "$work/auth" \
			-H 'Content-Type: application/json;charset=utf-8' -H 'Accept: application/json' "$2") || status=000
	else
		status=$(curl -sS -o "$work/body" -w '%{http_code}' --max-time 20 -K "$work/auth" -X "$1" \
			-H 'Content-Type: application/json;charset=utf-8' -H 'Accept: application/json' \
			--data-binary "$4" "$2") || status=000
	fi
	body=$(cat "$work/body")
	requests=$((requests + 1))
}

# plain METHOD URL [admin [BODY]]: a request without realm-core's headers
# (its location request), or the suite's own admin call with the admin key.
plain() {
	last="$1 ${2#"$base"}"
	if [ "${3:-}" = admin ]; then
		printf 'header "Authorization: Bearer %s"\n' "$(cat "$SESAME_INTEROP_ADMIN_KEY_FILE")" >"$work/auth"
	else
		: >"$work/auth"
	fi
	if [ -n "${4:-}" ]; then
		status=$(curl -sS -o "$work/body" -w '%{http_code}' --max-time 20 -K "$work/auth" -X "$1" \
			-H 'Content-Type: application/json' --data-binary "$4" "$2") || status=000
	else
		status=$(curl -sS -o "$work/body" -w '%{http_code}' --max-time 20 -K "$work/auth" -X "$1" "$2") ||
			status=000
	fi
	body=$(cat "$work/body")
}

# tamper TOKEN: the token with the first character of its signature changed.
tamper() {
	sig=${1##*.}
	case "$sig" in
	A*) printf '%s.B%s' "${1%.*}" "${sig#?}" ;;
	*) printf '%s.A%s' "${1%.*}" "${sig#?}" ;;
	esac
}

# The user whose calls are sent: $user, $access, $refresh, $device_id.
user=""
access=""
refresh=""
device_id=""

# authed METHOD URL access|refresh [BODY]: realm-core's
# do_authenticated_request for the current user.
authed() {
	if [ "$3" = refresh ]; then
		send "$1" "$2" "$refresh" "${4:-}"
		if [ "$status" = 401 ]; then
			access=""
			refresh=""
		fi
		return 0
	fi
	send "$1" "$2" "$access" "${4:-}"
	[ "$status" = 401 ] || return 0
	first_status=$status
	first_body=$body
	first_last=$last
	send POST "$client/auth/session" "$refresh"
	if [ "$status" != 201 ]; then
		status=$first_status
		body=$first_body
		last=$first_last
		return 0
	fi
	pick access=access_token
	send "$1" "$2" "$access" "${4:-}"
}

# login NAME CREDENTIAL-MEMBERS [link]: POST .../providers/NAME/login with the
# credential's members plus options.device; on 200 the answer becomes the
# current user.  A link (an access-token call) keeps the user and takes only
# the answer's access token, as realm-core does.
login() {
	members=$2
	[ -n "$members" ] && members="$members,"
	if [ "${3:-}" = link ]; then
		authed POST "$auth/providers/$1/login?link=true" access "{$members\"options\":{\"device\":$device}}"
		[ "$status" != 200 ] || pick access=access_token
		return 0
	fi
	send POST "$auth/providers/$1/login" "" "{$members\"options\":{\"device\":$device}}"
	[ "$status" != 200 ] || pick user=user_id access=access_token refresh=refresh_token device_id=device_id
}

# mail KIND ADDRESS: the JSON line a mailbox program (mailbox.sh) last wrote
# for an address, as the last answer.
mail() {
	body=$(grep -F "\"email\":\"$2\"" "$mailbox/$1" 2>/dev/null | tail -n 1)
}

save_user() { eval "${1}_user=\$user ${1}_access=\$access ${1}_refresh=\$refresh"; }
use_user() { eval "user=\$${1}_user access=\$${1}_access refresh=\$${1}_refresh"; }

jwt() { node "$tools" mint "$@"; }
claim() { node "$tools" claims "$1" "$2"; }

# ---- the checks ------------------------------------------------------------------

begin "location: no headers; hostname, ws_hostname and deployment fields"
plain GET "$client/app/$app/location"
want_status 200
pick hostname=hostname ws=ws_hostname model=deployment_model location=location
want_eq "$hostname" "$base" "hostname"
want_eq "$ws" "ws${base#http}" "ws_hostname"
[ -n "$model" ] && [ -n "$location" ] || flunk "no deployment_model or location: $body"
end

begin "anonymous: {\"provider\":\"anon-user\"} and options.device log in"
login anon-user '"provider":"anon-user"'
want_status 200
printf '%s' "$user" | grep -Eq '^[0-9a-f]{24}$' || flunk "user_id \"$user\" is not 24 hex digits"
printf '%s' "$device_id" | grep -Eq '^[0-9a-f]{24}$' || flunk "device_id \"$device_id\" is not 24 hex digits"
[ "$device_id" != 000000000000000000000000 ] || flunk "device_id is all zero"
[ -n "$refresh" ] || flunk "no refresh_token"
end
save_user anon

begin "profile: GET /auth/profile with the access token; data members are strings"
authed GET "$client/auth/profile" access
want_status 200
pick p_user=user_id p_type=type p_ptype=identities.0.provider_type p_id=identities.0.id
want_eq "$p_user" "$user" "user_id"
want_eq "$p_type" normal "type"
want_eq "$p_ptype" anon-user "identities.0.provider_type"
[ -n "$p_id" ] || flunk "identities.0.id is missing"
printf '%s' "$body" | node -e '
	const p = JSON.parse(require("fs").readFileSync(0, "utf8"));
	if (typeof p.data !== "object" || p.data === null) throw new Error("data is not an object");
	for (const [k, v] of Object.entries(p.data)) if (typeof v !== "string") throw new Error(`data.${k} is not a string`);
' 2>"$work/err" || flunk "$(grep Error "$work/err" | tail -n 1)"
end

begin "refresh: POST /auth/session with the refresh token and an empty body answers 201 {access_token}"
authed POST "$client/auth/session" refresh
want_status 201
pick next=access_token
[ -n "$next" ] || flunk "no access_token: $body"
[ -z "$next" ] || want_eq "$(claim "$next" sub)" "$user" "sub of the new access token"
[ -z "$next" ] || access=$next
end

begin "refresh on 401: a refused access token is refreshed once and the call retried"
access=$(tamper "$access")
before=$requests
authed GET "$client/auth/profile" access
want_status 200
want_eq "$((requests - before))" 3 "requests (profile, refresh, profile)"
end
save_user anon

begin "custom JWT: {\"provider\":\"custom-token\",\"token\"} logs in with its metadata"
jwt_sub="core-jwt-$unique"
token=$(jwt "$jwt_sub" '{"email":"core-'"$unique"'@example.com","name":"Core Jay"}')
login custom-token "\"provider\":\"custom-token\",\"token\":\"$token\""
want_status 200
authed GET "$client/auth/profile" access
want_status 200
pick email=data.email nick=data.name p_id=identities.0.id
want_eq "$email" "core-$unique@example.com" "data.email"
want_eq "$nick" "Core Jay" "data.name"
want_eq "$p_id" "$jwt_sub" "identities.0.id"
end
save_user jwt

begin "custom data: the admin API's custom data reaches user_data at the next refresh"
plain PUT "$base/api/admin/v1/users/$user/custom_data" admin '{"plan":"gold","seats":5}'
want_status 200
authed POST "$client/auth/session" refresh
want_status 201
pick access=access_token
want_eq "$(claim "$access" user_data)" '{"plan":"gold","seats":5}' "user_data"
end
save_user jwt

begin "function: the BSON payload as canonical EJSON, no \"provider\", plain numbers for the program"
login custom-function "\"username\":\"core-$unique\",\"pin\":{\"\$numberInt\":\"4711\"}"
want_status 200
authed GET "$client/auth/profile" access
pick p_id=identities.0.id
want_eq "$p_id" "fn-core-$unique" "identities.0.id"
end

# ---- email/password, on the auto-confirmed instance named after its type ----
amy="amy-$unique@example.com"
begin "email/password: register {email, password}, log in {provider, username, password}"
send POST "$auth/providers/local-userpass/register" "" "{\"email\":\"$amy\",\"password\":\"amys-password\"}"
want_status 201
login local-userpass "\"provider\":\"local-userpass\",\"username\":\"$amy\",\"password\":\"amys-password\""
want_status 200
end
save_user amy

begin "email/password: reset/send, then reset {password, token, tokenId}"
send POST "$auth/providers/local-userpass/reset/send" "" "{\"email\":\"$amy\"}"
want_status 200
mail reset "$amy"
pick token=token token_id=tokenId
[ -n "$token" ] && [ -n "$token_id" ] || flunk "no reset token was mailed to $amy"
send POST "$auth/providers/local-userpass/reset" "" \
	"{\"password\":\"amys-new-password\",\"token\":\"$token\",\"tokenId\":\"$token_id\"}"
want_status 200
login local-userpass "\"provider\":\"local-userpass\",\"username\":\"$amy\",\"password\":\"amys-new-password\""
want_status 200
end
save_user amy

begin "email/password: reset/call {email, password, arguments} sets the password"
send POST "$auth/providers/local-userpass/reset/call" "" \
	"{\"email\":\"$amy\",\"password\":\"amys-third-password\",\"arguments\":[{\"\$numberInt\":\"7\"},\"core\"]}"
want_status 200
login local-userpass "\"provider\":\"local-userpass\",\"username\":\"$amy\",\"password\":\"amys-third-password\""
want_status 200
end
save_user amy

begin "email/password: the reset function gets the EJSON arguments decoded"
mail reset-call "$amy"
pick args=arguments
want_eq "$args" '[7,"core"]' "arguments the reset function got"
end

# ---- email/password, on the instance that mails confirmations ----
ben="ben-$unique@example.com"
begin "email/password: confirm {token, tokenId} from the confirmation mail"
send POST "$auth/providers/userpass-confirm/register" "" "{\"email\":\"$ben\",\"password\":\"bens-password\"}"
want_status 201
mail confirm "$ben"
pick token=token token_id=tokenId
send POST "$auth/providers/userpass-confirm/confirm" "" "{\"token\":\"$token\",\"tokenId\":\"$token_id\"}"
want_status 200
login userpass-confirm "\"provider\":\"local-userpass\",\"username\":\"$ben\",\"password\":\"bens-password\""
want_status 200
end

begin "email/password: confirm/send mails a new token; confirm/call confirms through the function"
cal="cal-$unique@example.com"
send POST "$auth/providers/userpass-confirm/register" "" "{\"email\":\"$cal\",\"password\":\"cals-password\"}"
want_status 201
send POST "$auth/providers/userpass-confirm/confirm/send" "" "{\"email\":\"$cal\"}"
want_status 200
want_eq "$(grep -c -F "\"email\":\"$cal\"" "$mailbox/confirm")" 2 "confirmation mails for $cal"
send POST "$auth/providers/userpass-confirm/confirm/call" "" "{\"email\":\"$cal\"}"
want_status 200
login userpass-confirm "\"provider\":\"local-userpass\",\"username\":\"$cal\",\"password\":\"cals-password\""
want_status 200
end

begin "email/password: confirm/send for a confirmed address is a 400 \"already confirmed\""
send POST "$auth/providers/userpass-confirm/confirm/send" "" "{\"email\":\"$ben\"}"
want_status 400
pick e_text=error
want_in "$e_text" "already confirmed" "error"
end

# ---- API keys, with amy's refresh token ----
use_user amy
begin "API keys: create {name} answers {_id, key, name, disabled}; fetch and fetch all"
authed POST "$client/auth/api_keys" refresh '{"name":"core-key"}'
want_status 201
pick key_id=_id key=key k_name=name k_disabled=disabled
want_eq "$k_name" core-key "name"
want_eq "$k_disabled" false "disabled"
# realm-core parses the _id as an ObjectId.
printf '%s' "$key_id" | grep -Eq '^[0-9a-f]{24}$' || flunk "_id \"$key_id\" is not an ObjectId"
authed GET "$client/auth/api_keys/$key_id" refresh
want_status 200
pick k_id=_id k_key=key
want_eq "$k_id" "$key_id" "_id of fetch"
[ -z "$k_key" ] || flunk "fetch shows the key"
authed GET "$client/auth/api_keys" refresh
want_status 200
pick k_id=0._id
want_eq "$k_id" "$key_id" "_id of fetch all"
end

begin "API keys: disable refuses the key's login (401 AuthError); enable logs in as its user"
authed PUT "$client/auth/api_keys/$key_id/disable" refresh
want_status 204
save_user amy
login api-key "\"provider\":\"api-key\",\"key\":\"$key\""
want_error 401 AuthError "invalid API key"
use_user amy
authed PUT "$client/auth/api_keys/$key_id/enable" refresh
want_status 204
login api-key "\"provider\":\"api-key\",\"key\":\"$key\""
want_status 200
want_eq "$user" "$amy_user" "user of the key"
use_user amy
end

begin "API keys: delete; the deleted key is refused and fetching it is 404 APIKeyNotFound"
authed DELETE "$client/auth/api_keys/$key_id" refresh
want_status 204
login api-key "\"provider\":\"api-key\",\"key\":\"$key\""
want_error 401 AuthError "invalid API key"
use_user amy
authed GET "$client/auth/api_keys/$key_id" refresh
want_error 404 APIKeyNotFound "API key not found"
end

begin "API keys: another user's key is 404 APIKeyNotFound"
authed POST "$client/auth/api_keys" refresh '{"name":"amys-key"}'
pick other_key=_id
use_user jwt
authed GET "$client/auth/api_keys/$other_key" refresh
want_error 404 APIKeyNotFound "API key not found"
end

begin "API keys: a name with spaces is a 400 InvalidParameter"
use_user amy
authed POST "$client/auth/api_keys" refresh '{"name":"amy key"}'
want_status 400
pick e_code=error_code
want_eq "$e_code" InvalidParameter "error_code"
end

# ---- linking ----
dan="dan-$unique@example.com"
begin "link: an anonymous user links email/password and stays the same user"
login anon-user '"provider":"anon-user"'
save_user upgrade
send POST "$auth/providers/local-userpass/register" "" "{\"email\":\"$dan\",\"password\":\"dans-password\"}"
login local-userpass "\"provider\":\"local-userpass\",\"username\":\"$dan\",\"password\":\"dans-password\"" link
want_status 200
pick l_user=user_id
want_eq "$l_user" "$upgrade_user" "user_id of the link answer"
login local-userpass "\"provider\":\"local-userpass\",\"username\":\"$dan\",\"password\":\"dans-password\""
want_status 200
want_eq "$user" "$upgrade_user" "user of the email/password login"
save_user dan
end

begin "link: the link's access token belongs to the caller's session (a link opens no session)"
login anon-user '"provider":"anon-user"'
login custom-token "\"provider\":\"custom-token\",\"token\":\"$(jwt "core-linked-$unique")\"" link
want_status 200
pick l_user=user_id
want_eq "$l_user" "$user" "user_id of the link answer"
link_access=$access
authed DELETE "$client/auth/session" refresh
want_status 204
send GET "$client/auth/profile" "$link_access"
want_status 401
end

begin "link: a second local-userpass identity is refused"
use_user dan
eli="eli-$unique@example.com"
send POST "$auth/providers/local-userpass/register" "" "{\"email\":\"$eli\",\"password\":\"elis-password\"}"
login local-userpass "\"provider\":\"local-userpass\",\"username\":\"$eli\",\"password\":\"elis-password\"" link
case "$status" in 4??) ;; *) flunk "$last answered $status, expected a refusal: $body" ;; esac
pick e_text=error
want_in "$e_text" "linking a local-userpass identity is not allowed" "error"
end

begin "link conflict: another user's identity answers 401 InvalidSession \"$conflict\", and again after one refresh"
login anon-user '"provider":"anon-user"'
conflicting="{\"provider\":\"custom-token\",\"token\":\"$(jwt "$jwt_sub")\",\"options\":{\"device\":$device}}"
send POST "$auth/providers/custom-token/login?link=true" "$access" "$conflicting"
want_error 401 InvalidSession "$conflict"
authed POST "$client/auth/session" refresh
want_status 201
pick access=access_token
send POST "$auth/providers/custom-token/login?link=true" "$access" "$conflicting"
want_error 401 InvalidSession "$conflict"
end

# ---- logging out and deleting ----
begin "logout: DELETE /auth/session ends the session; its refresh token then answers 401"
use_user jwt
authed DELETE "$client/auth/session" refresh
want_status 204
send POST "$client/auth/session" "$jwt_refresh"
want_error 401 InvalidSession "invalid session"
end

begin "logout of an anonymous user deletes it"
use_user anon
authed DELETE "$client/auth/session" refresh
want_status 204
plain GET "$base/api/admin/v1/users/$anon_user" admin
want_status 404
end

begin "delete: DELETE /auth/delete, then logout answers the hosted \"$hosted_logout\""
use_user dan
authed DELETE "$client/auth/delete" access
want_status 204
authed DELETE "$client/auth/session" refresh
want_error 401 InvalidSession "$hosted_logout"
end

echo "realm-core: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
