#!/bin/sh
# Makes the TLS material the Kubernetes API stand-in and the integration tests use:
# a CA, a server certificate for localhost/127.0.0.1/::1, an admin client certificate
# (CN admin, O system:masters) and an untrusted client certificate from a second CA.
# Usage: gencerts.sh OUTDIR. Idempotent (does nothing when every file is there), quiet.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
out=$1

files="ca.crt ca.key server.crt server.key client.crt client.key bad-client.crt bad-client.key"
mkdir -p "$out"
complete=1
for f in $files; do
	[ -s "$out/$f" ] || complete=0
done
[ "$complete" = 1 ] && exit 0

# Keys are secrets even in tests: never world-readable.
umask 077
work=$(mktemp -d "$out/.gencerts.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
log="$work/openssl.log"

# openssl chatters on stderr ("Certificate request self-signature ok"): keep it for errors only.
run() {
	if ! "$@" >>"$log" 2>&1; then
		echo "gencerts.sh: failed: $*" >&2
		cat "$log" >&2
		exit 1
	fi
}

newkey() {
	run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
}

newca() { # newca NAME CN
	newkey "$work/$1.key"
	run openssl req -x509 -new -key "$work/$1.key" -sha256 -days 3650 -subj "/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" \
		-out "$work/$1.crt"
}

sign() { # sign NAME SUBJECT CA EXTFILE
	newkey "$work/$1.key"
	run openssl req -new -key "$work/$1.key" -subj "$2" -out "$work/$1.csr"
	run openssl x509 -req -in "$work/$1.csr" -CA "$work/$3.crt" -CAkey "$work/$3.key" \
		-set_serial "0x$(openssl rand -hex 16)" -days 825 -sha256 \
		-extfile "$4" -out "$work/$1.crt"
}

cat >"$work/server.ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
EOF
cat >"$work/client.ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EOF

newca ca profileguard-standin-ca
newca bad-ca profileguard-untrusted-ca
sign server "/CN=localhost" ca "$work/server.ext"
sign client "/O=system:masters/CN=admin" ca "$work/client.ext"
sign bad-client "/O=system:masters/CN=admin" bad-ca "$work/client.ext"

# Certificates are public; the CA key stays private so only tests can mint more.
for f in $files; do
	case $f in *.crt) chmod 644 "$work/$f" ;; esac
	mv -f "$work/$f" "$out/$f"
done
