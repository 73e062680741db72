#!/bin/sh
# Usage: compare.sh <rosetta_c> <command...>
# Runs the C version and another language's version; fails unless both print the same line.
set -u
ref=$("$1") || { echo "the C version failed"; exit 1; }
shift
got=$("$@") || { echo "FAILED: $*"; exit 1; }
echo "C:     $ref"
echo "other: $got"
[ "$ref" = "$got" ] || { echo "MISMATCH"; exit 1; }
