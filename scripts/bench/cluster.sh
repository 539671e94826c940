# Shared by the agent benchmarks: writes DIR/pods.yaml (a Deployment "backend" of REPLICAS echo pods),
# DIR/services.yaml (SERVICES Services selecting it) and DIR/policies.yaml (20 CiliumNetworkPolicies on it).
# Usage: bench_cluster DIR SERVICES [REPLICAS (4)]
bench_cluster() {
  local dir="$1" services="$2" replicas="${3:-4}" i
  bench_backend "$replicas" > "$dir/pods.yaml"
  for i in $(seq 1 "$services"); do
    printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: svc-%d}\nspec:\n  selector: {app: backend}\n  ports: [{port: 80, targetPort: 8080}]\n' "$i"
  done > "$dir/services.yaml"
  for i in $(seq 1 20); do
    bench_policy "$i" 8080
  done > "$dir/policies.yaml"
}

# The Deployment "backend" with REPLICAS pods.
bench_backend() {
  printf -- 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: backend}\nspec:\n  replicas: %d\n  selector: {matchLabels: {app: backend}}\n  template:\n    metadata: {labels: {app: backend}}\n    spec:\n      containers:\n      - name: echo\n        image: sluice/echo\n        ports: [{containerPort: 8080}]\n' "$1"
}

# Policy p-N: backend pods accept client-N on PORT.
bench_policy() {
  printf -- '---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p-%d}\nspec:\n  endpointSelector: {matchLabels: {app: backend}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: client-%d}}]\n    toPorts: [{ports: [{port: "%d", protocol: TCP}]}]\n' "$1" "$1" "$2"
}
