#!/usr/bin/env bash
# Prerequisites of the real-server and browser tests that pip's `test` extra cannot install: Debian's Chromium
# (page tests, tests/browser.py), Java 17+ from Debian (tests/resolve: Spark Thrift Server + SeaweedFS), and the two
# s3a jars (hadoop-aws 3.3.1, aws-java-sdk-bundle
# 1.11.901) taken once from the PyPI sdist sagemaker-pyspark==1.4.5 into $MLCATALOG_TEST_JARS
# (default ~/.cache/mlcatalog-test-jars; verified by SHA-256, ~14 s the first time, 0.2 s after).
# Idempotent. Run from .ci/run after `pip install -e '.[test]'` and before pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

java_ok() {
    command -v java >/dev/null 2>&1 && java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])'
}
if ! java_ok; then
    echo "== installing Java 17 (openjdk-17-jre-headless)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless
fi
java_ok || { echo "Java 17+ still missing" >&2; exit 1; }

# Pages are tested in Debian's Chromium, driven by Playwright (never a browser Playwright downloads).
if [ ! -x /usr/bin/chromium ]; then
    echo "== installing Chromium (Debian)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
fi
[ -x /usr/bin/chromium ] || { echo "Chromium still missing" >&2; exit 1; }

echo "== s3a jars for Spark"
python3 -c 'from tests.integration_servers import ensure_s3a_jars; print(*ensure_s3a_jars(), sep="\n")'
