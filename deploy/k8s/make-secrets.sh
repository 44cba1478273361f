#!/usr/bin/env bash
# The Secrets GenFleet's NATS needs on Kubernetes, in namespace NAMESPACE (default genfleet):
#   deploy/k8s/make-secrets.sh [NAMESPACE] [DIR]
#   genfleet-nats-<identity>  each service's own nkey seed (key `seed`), mounted by it alone
#   genfleet-nats-auth        the nats-server's authorization block (every public key and its
#                             permissions, from genfleet_common.identities)
#   genfleet-nats-tls         the servers' certificate and key, and the CA (scripts/make-ca.sh)
#   genfleet-nats-ca          the CA certificate alone, for the clients
# DIR (default: a temporary directory, removed after) keeps the seeds and the CA: run again
# with the same DIR and only what is missing is made; `genfleet nats-identities DIR --rotate
# ID` then this script rotates an identity. Run from the checkout, after `uv sync`.
set -euo pipefail

ns=${1:-genfleet}
dir=${2:-}
if [[ -z $dir ]]; then
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
fi
repo=$(cd "$(dirname "$0")/../.." && pwd)

uv run --project "$repo" genfleet nats-identities "$dir/identities" >/dev/null
bash "$repo/scripts/make-ca.sh" "$dir/tls" nats "nats.$ns" "nats.$ns.svc" \
  "nats.$ns.svc.cluster.local" "*.nats-cluster" "*.nats-cluster.$ns.svc" \
  "*.nats-cluster.$ns.svc.cluster.local" localhost 127.0.0.1

apply() { kubectl -n "$ns" create secret generic "$@" --dry-run=client -o yaml | kubectl apply -f -; }

apply genfleet-nats-auth --from-file=auth.conf="$dir/identities/auth.conf"
apply genfleet-nats-tls --from-file="$dir/tls/ca.crt" --from-file="$dir/tls/server.crt" \
  --from-file="$dir/tls/server.key"
apply genfleet-nats-ca --from-file="$dir/tls/ca.crt"
for seed in "$dir"/identities/*.seed; do
  identity=$(basename "$seed" .seed)
  [[ $identity == admin || $identity == cli ]] && continue  # no pod runs as them
  apply "genfleet-nats-$identity" --from-file=seed="$seed"
done
echo "NATS Secrets made in namespace $ns; a changed one takes effect at the pods' restart" \
  "(kubectl -n $ns rollout restart statefulset/nats deployment)"
