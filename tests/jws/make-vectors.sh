#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/jws/make-vectors.sh — regenerate the data-driven JWS cases under
# tests/jws/{valid,invalid}/ with another implementation: the openssl
# command line signs every token, so sesame's verifier is checked against
# signatures it did not make.  The output is committed; the tests never run
# this script.  Keys are created once in tests/jws/keys/ and kept.
#
# Each case is a folder holding `token`, the keys (`keys.json`: a
# configured key list, or `jwks.json`: a JWKS document), optional
# `rules.json` and `expect`: "OK", or "STATUS reason" (e.g. "REJECTED alg").
set -eu
cd "$(dirname "$0")"
command -v openssl >/dev/null && command -v jq >/dev/null && command -v xxd >/dev/null || {
	echo "make-vectors.sh needs openssl, jq and xxd" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
K=keys
HMAC='sesame-test-hmac-secret-0123456789abcdef'

mkdir -p $K
[ -f $K/rsa.pem ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $K/rsa.pem 2>/dev/null
[ -f $K/rsa-other.pem ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $K/rsa-other.pem 2>/dev/null
[ -f $K/rsa1024.pem ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out $K/rsa1024.pem 2>/dev/null
[ -f $K/ec256.pem ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $K/ec256.pem
[ -f $K/ec384.pem ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out $K/ec384.pem
[ -f $K/ec521.pem ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out $K/ec521.pem
[ -f $K/ed25519.pem ] || openssl genpkey -algorithm ED25519 -out $K/ed25519.pem
for k in rsa rsa-other rsa1024 ec256 ec384 ec521 ed25519; do
	openssl pkey -in $K/$k.pem -pubout -out $K/$k.pub.pem
done

b64u() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
b64u_str() { printf '%s' "$1" | b64u; }
hex_b64u() { printf '%s' "$1" | xxd -r -p | b64u; }

# DER ECDSA signature (file $1) to raw R || S of $2 bytes each.
der_to_raw() {
	openssl asn1parse -inform DER -in "$1" | awk -F: '/INTEGER/ {print $NF}' | while read -r h; do
		h=$(printf '%s' "$h" | sed 's/^0*//')
		printf "%$(($2 * 2))s" "$h" | tr ' ' 0
	done | xxd -r -p
}

ec_size() { case $1 in ES256) echo 32;; ES384) echo 48;; ES512) echo 66;; esac; }
bits() { printf '%s' "$1" | sed 's/^[A-Z]*//'; }

# sign ALG KEYFILE-OR-SECRET INPUT: the base64url signature.
sign() {
	printf '%s' "$3" > "$T/in"
	case $1 in
	HS*) openssl dgst -sha"$(bits "$1")" -mac HMAC -macopt key:"$2" -binary < "$T/in" | b64u ;;
	RS*) openssl dgst -sha"$(bits "$1")" -sign "$2" -binary < "$T/in" | b64u ;;
	PS*) openssl dgst -sha"$(bits "$1")" -sign "$2" -sigopt rsa_padding_mode:pss \
		-sigopt rsa_pss_saltlen:digest -binary < "$T/in" | b64u ;;
	ES*) openssl dgst -sha"$(bits "$1")" -sign "$2" -binary < "$T/in" > "$T/der"
		der_to_raw "$T/der" "$(ec_size "$1")" | b64u ;;
	EdDSA) openssl pkeyutl -sign -inkey "$2" -rawin -in "$T/in" | b64u ;;
	esac
}

# jwt ALG KEY HEADER PAYLOAD: a compact JWS signed by openssl.
jwt() {
	h=$(b64u_str "$3")
	p=$(b64u_str "$4")
	printf '%s.%s.%s' "$h" "$p" "$(sign "$1" "$2" "$h.$p")"
}

# keys ALG KEY [KID]: a configured key list holding one key (PEM file or secret).
keys() {
	if [ -f "$2" ]; then
		jq -n --arg alg "$1" --rawfile key "$2" --arg kid "${3:-}" \
			'[{alg: $alg, key: $key} + (if $kid == "" then {} else {kid: $kid} end)]'
	else
		jq -n --arg alg "$1" --arg key "$2" --arg kid "${3:-}" \
			'[{alg: $alg, key: $key} + (if $kid == "" then {} else {kid: $kid} end)]'
	fi
}

# case DIR TOKEN EXPECT: write a case; keys/rules are written by the caller.
case_() {
	rm -rf "$1"
	mkdir -p "$1"
	printf '%s\n' "$2" > "$1/token"
	printf '%s\n' "$3" > "$1/expect"
}

pubkey_for() { case $1 in HS*) echo "$HMAC";; RS*|PS*) echo $K/rsa.pub.pem;; ES256) echo $K/ec256.pub.pem;;
	ES384) echo $K/ec384.pub.pem;; ES512) echo $K/ec521.pub.pem;; EdDSA) echo $K/ed25519.pub.pem;; esac; }
privkey_for() { case $1 in HS*) echo "$HMAC";; RS*|PS*) echo $K/rsa.pem;; ES256) echo $K/ec256.pem;;
	ES384) echo $K/ec384.pem;; ES512) echo $K/ec521.pem;; EdDSA) echo $K/ed25519.pem;; esac; }

# The claims every case starts from; the runner's clock is 1700000000.
CLAIMS='{"sub":"user-1","iss":"https://issuer.example","aud":"sesame-app","iat":1699999900,"exp":1700003600}'
RULES='{"audiences":["sesame-app"],"issuers":["https://issuer.example"]}'

# good ALG: a token of ALG and its key, for the cases below.
valid_case() { # NAME ALG [HEADER]
	d=valid/$1
	case_ $d "$(jwt "$2" "$(privkey_for "$2")" "{\"alg\":\"$2\",\"typ\":\"JWT\"}" "$CLAIMS")" OK
	keys "$2" "$(pubkey_for "$2")" > $d/keys.json
	printf '%s\n' "$RULES" > $d/rules.json
	printf '%s\n' "$CLAIMS" > $d/claims.json
}

invalid_case() { # NAME TOKEN EXPECT ALG-OF-KEY [RULES]
	d=invalid/$1
	case_ $d "$2" "$3"
	keys "$4" "$(pubkey_for "$4")" > $d/keys.json
	printf '%s\n' "${5:-$RULES}" > $d/rules.json
}

# signed ALG PAYLOAD [HEADER]: a token with given claims.
signed() {
	if [ $# -ge 3 ]; then hdr=$3; else hdr="{\"alg\":\"$1\"}"; fi
	jwt "$1" "$(privkey_for "$1")" "$hdr" "$2"
}

rm -rf valid invalid
mkdir -p valid invalid

# ---- valid: every algorithm, signed by openssl ---------------------------
for a in HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA; do
	valid_case "openssl-$(echo $a | tr 'A-Z' 'a-z')" $a
done

# The same keys as a JWKS, selected by kid.
rsa_n=$(openssl rsa -in $K/rsa.pem -noout -modulus 2>/dev/null | sed 's/^Modulus=//')
ec_xy=$(openssl pkey -in $K/ec256.pem -pubout -outform DER | tail -c 64 | xxd -p | tr -d '\n')
ed_x=$(openssl pkey -in $K/ed25519.pem -pubout -outform DER | tail -c 32 | b64u)
RSA_JWK=$(jq -n --arg n "$(hex_b64u "$rsa_n")" '{kty: "RSA", n: $n, e: "AQAB"}')
EC_JWK=$(jq -n --arg x "$(hex_b64u "$(echo "$ec_xy" | cut -c1-64)")" --arg y "$(hex_b64u "$(echo "$ec_xy" | cut -c65-128)")" \
	'{kty: "EC", crv: "P-256", x: $x, y: $y}')
ED_JWK=$(jq -n --arg x "$ed_x" '{kty: "OKP", crv: "Ed25519", x: $x}')
d=valid/jwks-by-kid
case_ $d "$(signed ES256 "$CLAIMS" '{"alg":"ES256","kid":"ec-1"}')" OK
jq -n --argjson r "$RSA_JWK" --argjson e "$EC_JWK" --argjson o "$ED_JWK" \
	'{keys: [$r + {kid: "rsa-1", alg: "RS256", use: "sig"}, $e + {kid: "ec-1"}, $o + {kid: "ed-1", alg: "EdDSA"}]}' > $d/jwks.json
printf '%s\n' "$RULES" > $d/rules.json
d=valid/jwks-rsa-by-kid
case_ $d "$(signed RS256 "$CLAIMS" '{"alg":"RS256","kid":"rsa-1"}')" OK
cp valid/jwks-by-kid/jwks.json valid/jwks-by-kid/rules.json $d/
d=valid/jwks-eddsa-by-kid
case_ $d "$(signed EdDSA "$CLAIMS" '{"alg":"EdDSA","kid":"ed-1"}')" OK
cp valid/jwks-by-kid/jwks.json valid/jwks-by-kid/rules.json $d/

# Published vectors: RFC 7515 A.1 (HS256), A.2 (RS256), A.3 (ES256), RFC 8037 A.4 (EdDSA).
RFC_PAYLOAD=eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ
d=valid/rfc7515-a1-hs256
case_ $d "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.$RFC_PAYLOAD.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" OK
echo '[{"alg":"HS256","key":{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}}]' > $d/keys.json
echo '{"now":1300819300,"issuers":["joe"]}' > $d/rules.json
echo '{"iss":"joe","exp":1300819380,"http://example.com/is_root":true}' > $d/claims.json
d=valid/rfc7515-a2-rs256
case_ $d "eyJhbGciOiJSUzI1NiJ9.$RFC_PAYLOAD.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw" OK
echo '{"keys":[{"kty":"RSA","e":"AQAB","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"}]}' > $d/jwks.json
echo '{"now":1300819300}' > $d/rules.json
cp valid/rfc7515-a1-hs256/claims.json $d/
d=valid/rfc7515-a3-es256
case_ $d "eyJhbGciOiJFUzI1NiJ9.$RFC_PAYLOAD.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q" OK
echo '{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}' > $d/jwks.json
echo '{"now":1300819300}' > $d/rules.json
cp valid/rfc7515-a1-hs256/claims.json $d/
d=valid/rfc8037-a4-eddsa
case_ $d "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg" OK
echo '{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}' > $d/jwks.json
# Its payload is the text "Example of Ed25519 signing", not claims.
echo '{"signature_only":true}' > $d/rules.json

# Claim variants that must pass.
d=valid/aud-array
case_ $d "$(signed HS256 '{"sub":"u","aud":["other","sesame-app"],"exp":1700003600}')" OK
keys HS256 "$HMAC" > $d/keys.json; echo '{"audiences":["sesame-app"]}' > $d/rules.json
d=valid/aud-all-audiences
case_ $d "$(signed HS256 '{"sub":"u","aud":["a","b","c"],"exp":1700003600}')" OK
keys HS256 "$HMAC" > $d/keys.json; echo '{"audiences":["a","c"],"all_audiences":true}' > $d/rules.json
d=valid/exp-within-leeway
case_ $d "$(signed HS256 '{"sub":"u","exp":1699999970}')" OK
keys HS256 "$HMAC" > $d/keys.json; echo '{}' > $d/rules.json
d=valid/exp-optional
case_ $d "$(signed HS256 '{"sub":"u"}')" OK
keys HS256 "$HMAC" > $d/keys.json; echo '{"exp_optional":true}' > $d/rules.json
d=valid/nbf-within-leeway
case_ $d "$(signed HS256 '{"sub":"u","exp":1700003600,"nbf":1700000030,"iat":1700000030}')" OK
keys HS256 "$HMAC" > $d/keys.json; echo '{}' > $d/rules.json
# Rotation: two keys without kid, the token signed by the second.
d=valid/rotation-no-kid
case_ $d "$(signed RS256 "$CLAIMS")" OK
jq -n --rawfile a $K/rsa-other.pub.pem --rawfile b $K/rsa.pub.pem '[{alg:"RS256",key:$a},{alg:"RS256",key:$b}]' > $d/keys.json
printf '%s\n' "$RULES" > $d/rules.json
# jku, x5u, jwk, x5c are ignored (never fetched): the configured key decides.
d=valid/jku-x5u-jwk-x5c-ignored
case_ $d "$(signed ES256 "$CLAIMS" "{\"alg\":\"ES256\",\"jku\":\"https://evil.example/jwks\",\"x5u\":\"https://evil.example/x5u\",\"x5c\":[\"MIIB\"],\"jwk\":$RSA_JWK}")" OK
keys ES256 "$(pubkey_for ES256)" > $d/keys.json; printf '%s\n' "$RULES" > $d/rules.json
# A path-like kid is an opaque map key.
d=valid/kid-path-is-opaque
case_ $d "$(signed HS256 "$CLAIMS" '{"alg":"HS256","kid":"../../etc/passwd"}')" OK
keys HS256 "$HMAC" "../../etc/passwd" > $d/keys.json; printf '%s\n' "$RULES" > $d/rules.json

# ---- invalid ---------------------------------------------------------------
HS=$(signed HS256 "$CLAIMS")
HSH=${HS%%.*}; HSP=$(echo "$HS" | cut -d. -f2); HSS=${HS##*.}
ES=$(signed ES256 "$CLAIMS")
ESH=${ES%%.*}; ESP=$(echo "$ES" | cut -d. -f2); ESS=${ES##*.}
RS=$(signed RS256 "$CLAIMS")

# 1: alg none / None / absent / empty signature.
invalid_case alg-none "$(b64u_str '{"alg":"none"}').$HSP." "REJECTED alg" HS256
invalid_case alg-none-mixed-case "$(b64u_str '{"alg":"NoNe"}').$HSP.$HSS" "REJECTED alg" HS256
invalid_case alg-absent "$(b64u_str '{"typ":"JWT"}').$HSP.$HSS" "REJECTED alg" HS256
invalid_case alg-not-string "$(b64u_str '{"alg":256}').$HSP.$HSS" "REJECTED alg" HS256
invalid_case alg-unknown "$(b64u_str '{"alg":"HS1"}').$HSP.$HSS" "REJECTED alg" HS256
invalid_case empty-signature "$HSH.$HSP." "REJECTED alg" HS256
# 2: HS256 against asymmetric keys (the PEM as HMAC secret; a JWK without alg).
h=$(b64u_str '{"alg":"HS256"}')
invalid_case hs256-with-rsa-pem-as-secret "$h.$HSP.$(sign HS256 "$(cat $K/rsa.pub.pem)" "$h.$HSP")" "REJECTED alg" RS256
d=invalid/hs256-vs-rsa-jwk-without-alg
case_ $d "$h.$HSP.$(printf '%s' "$h.$HSP" | openssl dgst -sha256 -mac HMAC -macopt hexkey:00 -binary | b64u)" "REJECTED alg"
jq -n --argjson r "$RSA_JWK" '{keys: [$r]}' > $d/jwks.json; echo '{}' > $d/rules.json
d=invalid/hs256-vs-rsa-jwk-same-kid
case_ $d "$(signed HS256 "$CLAIMS" '{"alg":"HS256","kid":"rsa-1"}')" "REJECTED alg"
cp valid/jwks-by-kid/jwks.json $d/; echo '{}' > $d/rules.json
# 3: RS512 against a key pinned to RS256 (with and without kid).
invalid_case rs512-vs-rs256-key "$(signed RS512 "$CLAIMS")" "REJECTED alg" RS256
d=invalid/rs512-vs-rs256-kid
case_ $d "$(signed RS512 "$CLAIMS" '{"alg":"RS512","kid":"rsa-1"}')" "REJECTED alg"
cp valid/jwks-by-kid/jwks.json $d/; echo '{}' > $d/rules.json
invalid_case ps256-vs-rs256-key "$(signed PS256 "$CLAIMS")" "REJECTED alg" RS256
invalid_case algorithms-rule-refuses "$HS" "REJECTED alg" HS256 '{"algorithms":["RS256"]}'
# 4: ECDSA r = s = 0 (DER and raw), r = n, DER form, wrong lengths.
invalid_case es256-der-zero "$ESH.$ESP.MAYCAQACAQA" "REJECTED sig" ES256
invalid_case es256-raw-zero "$ESH.$ESP.$(head -c 64 /dev/zero | b64u)" "REJECTED sig" ES256
N256=FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
invalid_case es256-r-equals-n "$ESH.$ESP.$(hex_b64u "${N256}0000000000000000000000000000000000000000000000000000000000000001")" "REJECTED sig" ES256
invalid_case es256-s-above-n "$ESH.$ESP.$(hex_b64u "0000000000000000000000000000000000000000000000000000000000000001FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF")" "REJECTED sig" ES256
printf '%s' "$ESH.$ESP" > "$T/in"; openssl dgst -sha256 -sign $K/ec256.pem -binary < "$T/in" > "$T/der"
invalid_case es256-der-form "$ESH.$ESP.$(b64u < "$T/der")" "REJECTED sig" ES256
invalid_case es256-63-bytes "$ESH.$ESP.$(printf '%s' "$ESS" | tr '_-' '/+' | sed 's/$/==/' | openssl base64 -d -A | head -c 63 | b64u)" "REJECTED sig" ES256
invalid_case es256-65-bytes "$ESH.$ESP.$( (printf '%s' "$ESS" | tr '_-' '/+' | sed 's/$/==/' | openssl base64 -d -A; printf 'x') | b64u)" "REJECTED sig" ES256
invalid_case es256-signature-of-other-input "$ESH.$ESP.$(sign ES256 $K/ec256.pem "$ESH.$(b64u_str '{"sub":"x"}')")" "REJECTED sig" ES256
# 5: RSA signature shorter than the modulus.
invalid_case rsa-short-signature "${RS%.*}.AAAA" "REJECTED sig" RS256
invalid_case rsa-other-key "$(jwt RS256 $K/rsa-other.pem '{"alg":"RS256"}' "$CLAIMS")" "REJECTED sig" RS256
# 6: an HMAC with one byte changed (compared in constant time).
bad=$(printf '%s' "$HSS" | sed 's/^./A/;t'); [ "$bad" != "$HSS" ] || bad=$(printf '%s' "$HSS" | sed 's/^./B/')
invalid_case hs256-wrong-mac "$HSH.$HSP.$bad" "REJECTED sig" HS256
invalid_case hs256-truncated-mac "$HSH.$HSP.$(printf '%s' "$HSS" | cut -c1-40)" "REJECTED sig" HS256
# 7: crit.
for c in 'crit-unknown:["exp-ext"]' 'crit-empty:[]' 'crit-standard:["alg"]' 'crit-not-array:"exp-ext"'; do
	name=${c%%:*}; val=${c#*:}
	invalid_case $name "$(signed HS256 "$CLAIMS" "{\"alg\":\"HS256\",\"crit\":$val,\"exp-ext\":1}")" "MALFORMED malformed" HS256
done
# 8: a token signed with the key it carries in its own "jwk" header.
invalid_case embedded-jwk-not-trusted "$(jwt ES256 $K/ec384.pem "{\"alg\":\"ES256\",\"jwk\":$EC_JWK}" "$CLAIMS" | sed 's/\.[^.]*$//').$(sign ES256 $K/ec256.pem x)" "REJECTED sig" ES256
d=invalid/jku-not-fetched
case_ $d "$(signed ES256 "$CLAIMS" '{"alg":"ES256","kid":"evil","jku":"http://127.0.0.1:1/jwks.json"}')" "REJECTED nokey"
jq -n --argjson e "$EC_JWK" '{keys: [$e + {kid: "ec-1"}]}' > $d/jwks.json; echo '{}' > $d/rules.json
# 9: duplicate members.
invalid_case duplicate-header-alg "$(b64u_str '{"alg":"RS256","alg":"HS256"}').$HSP.$HSS" "MALFORMED malformed" HS256
invalid_case duplicate-claim-sub "$(signed HS256 '{"sub":"a","sub":"b","exp":1700003600}')" "MALFORMED malformed" HS256 '{}'
# 10: base64url strictness.
invalid_case b64-plus "$HSH.$HSP.$(printf '%s' "$HSS" | sed 's/^./+/')" "MALFORMED malformed" HS256
invalid_case b64-slash "$HSH.$HSP.$(printf '%s' "$HSS" | sed 's/^./\//')" "MALFORMED malformed" HS256
invalid_case b64-padding "$HSH.$HSP.$HSS=" "MALFORMED malformed" HS256
invalid_case b64-space "$HSH.$HSP. $HSS" "MALFORMED malformed" HS256
invalid_case b64-newline-in-header "$(printf '%s' "$HSH" | cut -c1-8)
$(printf '%s' "$HSH" | cut -c9-).$HSP.$HSS" "MALFORMED malformed" HS256
# The last character of a 32-byte MAC carries 2 unused bits: set one.
last=$(printf '%s' "$HSS" | tail -c 1)
alpha=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_
idx=$(($(expr index "$alpha" "$last") - 1))
nz=$(printf '%s' "$alpha" | cut -c$(( (idx | 1) + 1 )))
invalid_case b64-nonzero-trailing-bits "$HSH.$HSP.$(printf '%s' "$HSS" | sed 's/.$//')$nz" "MALFORMED malformed" HS256
invalid_case b64-impossible-length "$HSH.$HSP.${HSS}AA" "MALFORMED malformed" HS256
# 11: segments, nested JWT.
invalid_case two-segments "$HSH.$HSP" "MALFORMED malformed" HS256
invalid_case five-segments-jwe "$HSH.$HSP.$HSS.AAAA.BBBB" "MALFORMED malformed" HS256
invalid_case four-segments "$HS." "MALFORMED malformed" HS256
invalid_case nested-cty-jwt "$(signed HS256 "$CLAIMS" '{"alg":"HS256","cty":"JWT"}')" "MALFORMED malformed" HS256
invalid_case empty-token "" "MALFORMED malformed" HS256
invalid_case header-not-json "$(b64u_str 'alg: HS256').$HSP.$HSS" "MALFORMED malformed" HS256
invalid_case header-array "$(b64u_str '["HS256"]').$HSP.$HSS" "MALFORMED malformed" HS256
invalid_case payload-not-object "$(signed HS256 '"just a string"')" "MALFORMED malformed" HS256
# 12: size caps (checked before decoding), deep nesting, truncation.
invalid_case over-max-length "$HS" "MALFORMED malformed" HS256 '{"max_length":100}'
invalid_case over-default-cap "$HSH.$(head -c 65600 /dev/zero | tr '\0' 'A').$HSS" "MALFORMED malformed" HS256
deep=$(head -c 3000 /dev/zero | tr '\0' '['; head -c 3000 /dev/zero | tr '\0' ']')
invalid_case deeply-nested-payload "$(signed HS256 "{\"sub\":\"u\",\"x\":$deep}")" "MALFORMED malformed" HS256
invalid_case deeply-nested-header "$(b64u_str "{\"alg\":\"HS256\",\"x\":$deep}").$HSP.$HSS" "MALFORMED malformed" HS256
invalid_case truncated-in-header "$(printf '%s' "$HSH" | cut -c1-10)" "MALFORMED malformed" HS256
# 13: NumericDate hostility.
for c in 'exp-1e400:1e400' 'exp-huge-integer:99999999999999999999' 'exp-string:"1700003600"' \
	'exp-float:1700003600.5' 'exp-negative:-1' 'exp-null:null' 'exp-beyond-year-9999:253402300800'; do
	name=${c%%:*}; val=${c#*:}
	invalid_case $name "$(signed HS256 "{\"sub\":\"u\",\"exp\":$val}")" "REJECTED claim" HS256 '{}'
done
invalid_case iat-milliseconds "$(signed HS256 '{"sub":"u","exp":1700003600,"iat":1700000000000}')" "REJECTED claim" HS256 '{}'
invalid_case nbf-float "$(signed HS256 '{"sub":"u","exp":1700003600,"nbf":1.5}')" "REJECTED claim" HS256 '{}'
# 14: missing exp, expired, nbf and iat in the future.
invalid_case exp-missing "$(signed HS256 '{"sub":"u"}')" "REJECTED claim" HS256 '{}'
invalid_case expired "$(signed HS256 '{"sub":"u","exp":1699999900}')" "REJECTED claim" HS256 '{}'
invalid_case expired-beyond-leeway "$(signed HS256 '{"sub":"u","exp":1699999990}')" "REJECTED claim" HS256 '{"leeway":5}'
invalid_case nbf-future "$(signed HS256 '{"sub":"u","exp":1700003600,"nbf":1700000100}')" "REJECTED claim" HS256 '{}'
invalid_case iat-future "$(signed HS256 '{"sub":"u","exp":1700003600,"iat":1700000100}')" "REJECTED claim" HS256 '{}'
# 15: exact matches only; NUL refused.
invalid_case aud-prefix "$(signed HS256 '{"sub":"u","aud":"sesame","exp":1700003600}')" "REJECTED claim" HS256 '{"audiences":["sesame-app"]}'
invalid_case aud-longer "$(signed HS256 '{"sub":"u","aud":"sesame-app2","exp":1700003600}')" "REJECTED claim" HS256 '{"audiences":["sesame-app"]}'
invalid_case aud-array-without "$(signed HS256 '{"sub":"u","aud":["a","b"],"exp":1700003600}')" "REJECTED claim" HS256 '{"audiences":["sesame-app"]}'
invalid_case aud-empty-array "$(signed HS256 '{"sub":"u","aud":[],"exp":1700003600}')" "REJECTED claim" HS256 '{"audiences":["sesame-app"]}'
invalid_case aud-missing "$(signed HS256 '{"sub":"u","exp":1700003600}')" "REJECTED claim" HS256 '{"audiences":["sesame-app"]}'
invalid_case aud-not-all "$(signed HS256 '{"sub":"u","aud":["a","b"],"exp":1700003600}')" "REJECTED claim" HS256 '{"audiences":["a","c"],"all_audiences":true}'
invalid_case aud-nul "$(signed HS256 '{"sub":"u","aud":"sesame-app\u0000x","exp":1700003600}')" "REJECTED claim" HS256 '{"audiences":["sesame-app"]}'
invalid_case sub-nul "$(signed HS256 '{"sub":"a\u0000b","exp":1700003600}')" "REJECTED claim" HS256 '{}'
invalid_case iss-prefix "$(signed HS256 '{"sub":"u","iss":"Black","exp":1700003600}')" "REJECTED claim" HS256 '{"issuers":["Black Mesa"]}'
# 16: nothing is looked at before the signature: a bad signature wins over bad claims.
invalid_case bad-signature-before-claims "$HSH.$(b64u_str '{"sub":"u","exp":1,"jti":"x"}').$HSS" "REJECTED sig" HS256 '{}'
# 19: unusable JWKS keys are skipped (the token's kid then finds nothing).
for c in 'jwks-oct-skipped:{"kty":"oct","kid":"k","alg":"HS256","k":"c2VzYW1lLXRlc3QtaG1hYy1zZWNyZXQtMDEyMzQ1Njc4OWFiY2RlZg"}' \
	"jwks-use-enc-skipped:$(echo "$RSA_JWK" | jq -c '. + {kid: "k", use: "enc"}')" \
	"jwks-alg-mismatch-skipped:$(echo "$RSA_JWK" | jq -c '. + {kid: "k", alg: "ES256"}')" \
	"jwks-ec-off-curve-skipped:$(echo "$EC_JWK" | jq -c '. + {kid: "k", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5aw"}')" \
	'jwks-unknown-kty-skipped:{"kty":"XYZ","kid":"k"}'; do
	name=${c%%:*}; val=${c#*:}
	d=invalid/$name
	case_ $d "$(signed RS256 "$CLAIMS" '{"alg":"RS256","kid":"k"}')" "REJECTED nokey"
	jq -n --argjson k "$val" '{keys: [$k]}' > $d/jwks.json; echo '{}' > $d/rules.json
done
n1024=$(openssl rsa -in $K/rsa1024.pem -noout -modulus 2>/dev/null | sed 's/^Modulus=//')
d=invalid/jwks-rsa-1024-skipped
case_ $d "$(jwt RS256 $K/rsa1024.pem '{"alg":"RS256","kid":"k"}' "$CLAIMS")" "REJECTED nokey"
jq -n --arg n "$(hex_b64u "$n1024")" '{keys: [{kty: "RSA", kid: "k", n: $n, e: "AQAB"}]}' > $d/jwks.json; echo '{}' > $d/rules.json
d=invalid/jwks-duplicate-kid-dropped
case_ $d "$(signed RS256 "$CLAIMS" '{"alg":"RS256","kid":"k"}')" "REJECTED nokey"
jq -n --argjson r "$RSA_JWK" --argjson o "$(jq -n --arg n "$(hex_b64u "$(openssl rsa -in $K/rsa-other.pem -noout -modulus 2>/dev/null | sed 's/^Modulus=//')")" '{kty:"RSA",e:"AQAB",n:$n}')" \
	'{keys: [$r + {kid: "k"}, $o + {kid: "k"}]}' > $d/jwks.json; echo '{}' > $d/rules.json
# 32: issuer configured: empty or unmatched.
invalid_case iss-empty "$(signed HS256 '{"sub":"u","iss":"","exp":1700003600}')" "REJECTED claim" HS256 '{"issuers":["https://issuer.example"]}'
invalid_case iss-missing "$(signed HS256 '{"sub":"u","exp":1700003600}')" "REJECTED claim" HS256 '{"issuers":["https://issuer.example"]}'
invalid_case iss-other "$(signed HS256 '{"sub":"u","iss":"https://evil.example","exp":1700003600}')" "REJECTED claim" HS256 '{"issuers":["https://issuer.example"]}'
# 33: HMAC secrets under 32 bytes, empty, or a PEM: the key set is refused (CONFIG key).
d=invalid/hs256-secret-31-bytes; case_ $d "$HS" "CONFIG key"; keys HS256 "0123456789012345678901234567890" > $d/keys.json; echo '{}' > $d/rules.json
d=invalid/hs256-secret-empty; case_ $d "$HS" "CONFIG key"; keys HS256 "" > $d/keys.json; echo '{}' > $d/rules.json
d=invalid/hs256-secret-is-pem; case_ $d "$HS" "CONFIG key"; jq -n --rawfile k $K/rsa.pub.pem '[{alg:"HS256",key:$k}]' > $d/keys.json; echo '{}' > $d/rules.json
d=invalid/rs256-key-is-ec; case_ $d "$RS" "CONFIG key"; keys RS256 $K/ec256.pub.pem > $d/keys.json; echo '{}' > $d/rules.json
d=invalid/rs256-key-1024-bits; case_ $d "$RS" "CONFIG key"; keys RS256 $K/rsa1024.pub.pem > $d/keys.json; echo '{}' > $d/rules.json
d=invalid/es384-key-is-p256; case_ $d "$ES" "CONFIG key"; keys ES384 $K/ec256.pub.pem > $d/keys.json; echo '{}' > $d/rules.json
# 34: a kid that looks like a path or SQL is only looked up, never used otherwise.
invalid_case kid-sql-unknown "$(signed HS256 "$CLAIMS" "{\"alg\":\"HS256\",\"kid\":\"' OR 1=1 --\"}")" "REJECTED nokey" HS256
invalid_case kid-path-unknown "$(signed HS256 "$CLAIMS" '{"alg":"HS256","kid":"../../etc/passwd"}')" "REJECTED nokey" HS256
# (keys without a kid accept any kid: give these keys one)
keys HS256 "$HMAC" main > invalid/kid-sql-unknown/keys.json
keys HS256 "$HMAC" main > invalid/kid-path-unknown/keys.json
invalid_case kid-not-string "$(signed HS256 "$CLAIMS" '{"alg":"HS256","kid":7}')" "MALFORMED malformed" HS256
echo "wrote $(ls valid | wc -l) valid and $(ls invalid | wc -l) invalid cases"
