#!/usr/bin/env bash
# A local CA and a certificate for the nats-server(s), where none is given:
#   scripts/make-ca.sh DIR [NAME ...]
# writes DIR/ca.crt + DIR/ca.key (the CA: made once, kept) and DIR/server.crt + DIR/server.key
# (made anew each run) valid for every NAME (a host name, '*.domain', or an IP address;
# default: localhost 127.0.0.1). The server certificate serves both the clients' TLS and the
# routes between cluster nodes, which present it to each other (clientAuth as well).
# Clients need ca.crt only (GENFLEET_NATS_TLS_CA). Keys are 0600; never commit them.
set -euo pipefail

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
dir=$1
shift
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(localhost 127.0.0.1)
days=${GENFLEET_CERT_DAYS:-825}

mkdir -p "$dir"
umask 077
if [[ ! -s $dir/ca.key || ! -s $dir/ca.crt ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" -days 3650 -subj "/CN=GenFleet NATS CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
fi

san=""
for name in "${names[@]}"; do
  if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then
    san+="${san:+,}IP:$name"
  else
    san+="${san:+,}DNS:$name"
  fi
done

ext=$(mktemp)
trap 'rm -f "$ext" "$dir/server.csr"' EXIT
printf '%s\n' \
  "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature,keyEncipherment" \
  "extendedKeyUsage=serverAuth,clientAuth" \
  "subjectAltName=$san" >"$ext"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
  -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=${names[0]}" 2>/dev/null
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
  -CAcreateserial -out "$dir/server.crt" -days "$days" -sha256 -extfile "$ext" 2>/dev/null
chmod 0644 "$dir/ca.crt" "$dir/server.crt"
echo "CA $dir/ca.crt; server certificate $dir/server.crt for ${names[*]}"
