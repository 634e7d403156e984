#!/bin/sh
# Runs libvirt's own virt-xml-validate on every golden output and every
# input of a passing case.
# Usage: validate_golden.sh VIRT_XML_VALIDATE XMLDIR [SCHEMA (default: domain)]
set -eu
tool=$1
dir=$2
type=${3:-domain}
n=0
for out in "$dir"/*.out.xml; do
    in="${out%.out.xml}.xml"
    for f in "$out" "$in"; do
        "$tool" "$f" "$type" >/dev/null || { echo "FAIL: $f" >&2; exit 1; }
        n=$((n + 1))
    done
done
[ "$n" -gt 0 ] || { echo "no golden files found in $dir" >&2; exit 1; }
echo "validated $n files"
