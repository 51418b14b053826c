"""Child process of test_durability.py: write records from several threads and print each prediction UUID to
stdout only after its write was confirmed (= its transaction committed), until SIGKILLed. Half the threads use
``submit(...).result()`` (the writer thread commits), half ``write`` (committed inline whenever the store is idle).

    python -m tests.metrics._durability_child STORE_URL DEPLOYMENT_CRN
"""

from __future__ import annotations

import os
import sys
import threading
import uuid

from serving.metrics import MetricRecord, open_metrics_store

THREADS = 8


def main() -> None:
    url, deployment = sys.argv[1], sys.argv[2]
    store = open_metrics_store(url)
    lock = threading.Lock()

    def submitter(n: int) -> None:
        i = 0
        while True:
            i += 1
            rec = MetricRecord(model_deployment_crn=deployment, prediction_uuid=str(uuid.uuid4()),
                               start_ms=1_700_000_000_000 + i, end_ms=1_700_000_000_001 + i,
                               metrics={"thread": n, "i": i, "pad": "x" * 200})
            if n % 2:
                store.write(rec)
            else:
                store.submit(rec).result()
            with lock:  # one write() per line, below PIPE_BUF: a kill never leaves half a UUID
                os.write(1, f"{rec.prediction_uuid}\n".encode())

    for n in range(THREADS):
        threading.Thread(target=submitter, args=(n,), daemon=True).start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
