"""``python -m ops_toolkit.demo.prometheus``: a Prometheus with the worked example's last 30
days, kept running for the README's examples (``make demo`` stops its own at the end).

It prints the ``export OPS_PROMETHEUS_URL=...`` line to paste, then runs until Ctrl-C or
SIGTERM, and stops its Prometheus then. Its files live under ``--dir`` (rebuilt each start).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import time
from types import FrameType

from ops_toolkit.demo.data import backfill, worked_example
from ops_toolkit.demo.servers import PrometheusServer, require_binary


def start_prometheus(workdir: str, port: int | None = None) -> PrometheusServer:
    """A Prometheus on 127.0.0.1 holding the worked example's 30 days up to this minute."""
    require_binary("promtool")
    shutil.rmtree(workdir, ignore_errors=True)
    end = int(time.time()) // 60 * 60
    started = time.monotonic()
    dataset = worked_example(end)
    backfill(dataset, f"{workdir}/tsdb", f"{workdir}/openmetrics")
    server = PrometheusServer(f"{workdir}/prometheus", f"{workdir}/tsdb", port=port).start()
    print(
        f"Prometheus {server.url} (pid {server.process.pid if server.process else '?'}): "
        f"{len(dataset.series)} series, 30 days at 1-minute steps, loaded in "
        f"{time.monotonic() - started:.1f}s",
        flush=True,
    )
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ops_toolkit.demo.prometheus")
    parser.add_argument("--port", type=int, default=0, help="0 (the default) picks a free port")
    parser.add_argument("--dir", default=".ops-demo-prometheus", help="its files (rebuilt)")
    options = parser.parse_args(argv)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    server = start_prometheus(options.dir, options.port or None)
    try:
        print(f"export OPS_PROMETHEUS_URL={server.url}   # Ctrl-C stops it", flush=True)
        while server.process is not None and server.process.poll() is None:
            time.sleep(0.5)
        raise SystemExit("the demo's Prometheus stopped by itself: see its log under --dir")
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
