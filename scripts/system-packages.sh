#!/usr/bin/env bash
# The Debian packages glimpse needs beside Python's: installed when missing (as root, as CI
# runs), otherwise named in one clear line. `make run` and `make test` call this first.
#   run:  a C compiler and Python's headers (the OTLP trace decoder's fast path), venv, npm
#   test: the same, plus Chromium (the console's browser tests), Graphviz (the DOT export),
#         Prometheus (a real scrape of GET /metrics), Alertmanager (glimpse's alerts sent
#         to a real one) and Java 17 (the Spark jobs over the lake, on local[2] and on a
#         standalone cluster)
set -euo pipefail
need="${1:-test}"
python="${PYTHON:-python3}"
missing=()
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
"$python" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
    || missing+=(python3-dev)
"$python" -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "$need" = test ]; then
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    command -v dot >/dev/null 2>&1 || missing+=(graphviz)
    command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
    command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
    command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "glimpse needs these Debian packages: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
echo "installing ${missing[*]} (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
