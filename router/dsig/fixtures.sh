#!/usr/bin/env bash
# Regenerates the interop fixtures in tests/data/interop/ from the source documents in
# tests/data/interop/src/ and the test keys in tests/data/keys/:
#   - xmlsec1 (Debian package xmlsec1) signs with RSA-2048/3072 and ECDSA P-256/P-384;
#   - the JDK (javax.xml.crypto.dsig, interop/XmlDsigTool.java) signs Ed25519 and RSA-PSS,
#     which Debian's xmlsec1 1.2.37 cannot.
# Each combination of key, C14N kind (inclusive/exclusive) and reference (URI="" / "#id") is
# written as <doc>-<key>-<c14n>-<ref>.xml; tests/interop.rs verifies all of them.
# Run from anywhere: router/dsig/fixtures.sh. Needs xmlsec1 and java (17+).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
keys=$here/tests/data/keys
src=$here/tests/data/interop/src
out=$here/tests/data/interop
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

DS=http://www.w3.org/2000/09/xmldsig#
INC=http://www.w3.org/TR/2001/REC-xml-c14n-20010315
EXC=http://www.w3.org/2001/10/xml-exc-c14n#
ENV=http://www.w3.org/2000/09/xmldsig#enveloped-signature
SHA256=http://www.w3.org/2001/04/xmlenc#sha256
SHA384=http://www.w3.org/2001/04/xmldsig-more#sha384
MORE=http://www.w3.org/2001/04/xmldsig-more

# doc -> "id attribute name|element (ns:local for xmlsec1)|id value"
declare -A IDS=(
  [namespaces]="Id|urn:xoev-de:test:nachricht:nachricht|nachricht-1"
  [crlf]="Id|urn:xoev-de:test:crlf:nachricht|crlf-1"
  [xoev]="ID|http://www.xwasser.de/1.0:wasser.antrag.0101|antrag-4711"
)

# Inserts a signature template (default-namespace or ds: prefixed) before the root end tag.
template() { # doc c14n sigalg digest uri prefix
  local doc=$1 c14n=$2 sig=$3 dig=$4 uri=$5 p=$6 content
  content=$(cat "$src/$doc.xml"; printf x); content=${content%x}
  local before=${content%</*} after="</${content##*</}"
  local x="" d=" xmlns=\"$DS\""
  if [ "$p" = ds ]; then x="ds:"; d=" xmlns:ds=\"$DS\""; fi
  printf '%s' "$before"
  printf '<%sSignature%s><%sSignedInfo><%sCanonicalizationMethod Algorithm="%s"/><%sSignatureMethod Algorithm="%s"/>' "$x" "$d" "$x" "$x" "$c14n" "$x" "$sig"
  printf '<%sReference URI="%s"><%sTransforms><%sTransform Algorithm="%s"/><%sTransform Algorithm="%s"/></%sTransforms>' "$x" "$uri" "$x" "$x" "$ENV" "$x" "$c14n" "$x"
  printf '<%sDigestMethod Algorithm="%s"/><%sDigestValue/></%sReference></%sSignedInfo><%sSignatureValue/>' "$x" "$dig" "$x" "$x" "$x" "$x"
  printf '<%sKeyInfo><%sX509Data/></%sKeyInfo></%sSignature>' "$x" "$x" "$x" "$x"
  printf '%s' "$after"
}

count=0
for doc in namespaces crlf xoev; do
  IFS='|' read -r idattr idnode idvalue <<<"${IDS[$doc]}"
  for key in rsa2048 rsa3072 p256 p384; do
    case $key in
      rsa*) sig=$MORE#rsa-sha256; dig=$SHA256 ;;
      p256) sig=$MORE#ecdsa-sha256; dig=$SHA256 ;;
      p384) sig=$MORE#ecdsa-sha384; dig=$SHA384 ;;
    esac
    for c in inc exc; do
      c14n=$INC; [ $c = exc ] && c14n=$EXC
      for ref in doc id; do
        uri=""; [ $ref = id ] && uri="#$idvalue"
        prefix=default; [ $((count % 2)) = 1 ] && prefix=ds
        template $doc $c14n $sig $dig "$uri" $prefix >"$tmp/t.xml"
        xmlsec1 --sign --privkey-pem "$keys/$key.key.pem,$keys/$key.cert.pem" \
          --id-attr:"$idattr" "$idnode" --output "$out/$doc-$key-$c-$ref.xml" "$tmp/t.xml"
        count=$((count + 1))
      done
    done
  done
done

# JDK: Ed25519 and RSA-PSS (SHA-256, MGF1-SHA-256).
java "$here/interop/XmlDsigTool.java" sign-batch "$keys" "$src" "$out"
echo "wrote $count xmlsec1 fixtures and the JDK fixtures to $out"
