#!/usr/bin/env bash
# Validates the manifests against the Kubernetes API schemas, offline: kubernetes-validate
# (from PyPI, into a throw-away venv) bundles the schemas of each Kubernetes release. No
# cluster is needed.
#
#   bash deploy/kubernetes/validate.sh            # K8S_VERSION=1.30.0 by default
set -euo pipefail
cd "$(dirname "$0")"
VENV=${K8S_VENV:-../../target/k8s-venv}
VERSION=${K8S_VERSION:-1.30.0}
VALIDATOR=1.34.1
if ! "$VENV/bin/python" -m pip show kubernetes-validate 2>/dev/null | grep -qx "Version: $VALIDATOR"; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "kubernetes-validate==$VALIDATOR"
fi
# kustomization.yaml is kustomize's, not an API object: validate the resources it lists.
manifests=$(sed -n 's/^  - \(.*\.yaml\)$/\1/p' kustomization.yaml)
# --strict: unknown fields are errors too.
"$VENV/bin/kubernetes-validate" --strict --kubernetes-version "$VERSION" $manifests
echo "k8s: $(echo $manifests | wc -w) manifests valid for Kubernetes $VERSION"
