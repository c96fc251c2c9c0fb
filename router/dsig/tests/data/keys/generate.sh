#!/usr/bin/env bash
# Regenerates the TEST-ONLY keys and certificates in this folder with openssl.
# Never use them for anything but tests: the private keys are public.
# After regenerating, re-run ../../../fixtures.sh: the fixtures are signed with these keys.
set -euo pipefail
cd "$(dirname "$0")"
days=3650
ext_ca=$(mktemp); ext_ee=$(mktemp); trap 'rm -f "$ext_ca" "$ext_ee" *.csr *.srl' EXIT
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' >"$ext_ca"
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >"$ext_ee"

# Test CA (RSA 3072) and a second, unrelated CA.
for ca in ca other-ca; do
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out $ca.key.pem
  openssl req -new -key $ca.key.pem -subj "/C=DE/O=xoev-router tests/CN=Test $ca" -out $ca.csr
  openssl x509 -req -in $ca.csr -signkey $ca.key.pem -days $days -sha256 -extfile "$ext_ca" -out $ca.cert.pem
done

leaf() { # name, genpkey args...
  local name=$1; shift
  openssl genpkey "$@" -out $name.key.pem
  openssl req -new -key $name.key.pem -subj "/C=DE/O=xoev-router tests/CN=Test signer $name" -out $name.csr
  openssl x509 -req -in $name.csr -CA ca.cert.pem -CAkey ca.key.pem -CAcreateserial -days $days -sha256 \
    -extfile "$ext_ee" -out $name.cert.pem
}
leaf rsa2048 -algorithm RSA -pkeyopt rsa_keygen_bits:2048
leaf rsa3072 -algorithm RSA -pkeyopt rsa_keygen_bits:3072
leaf p256 -algorithm EC -pkeyopt ec_paramgen_curve:P-256
leaf p384 -algorithm EC -pkeyopt ec_paramgen_curve:P-384
leaf ed25519 -algorithm ED25519
# A weak key: must be refused everywhere.
leaf rsa1024 -algorithm RSA -pkeyopt rsa_keygen_bits:1024
# A signer under the unrelated CA: must be untrusted.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out stranger.key.pem
openssl req -new -key stranger.key.pem -subj "/C=DE/O=elsewhere/CN=Stranger" -out stranger.csr
openssl x509 -req -in stranger.csr -CA other-ca.cert.pem -CAkey other-ca.key.pem -CAcreateserial -days $days -sha256 \
  -extfile "$ext_ee" -out stranger.cert.pem
# Public keys (SPKI PEM) for pinning without certificates.
for k in rsa2048 p256 ed25519; do openssl pkey -in $k.key.pem -pubout -out $k.pub.pem; done
