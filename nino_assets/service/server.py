"""Starting the query service, with no Dagster: `python -m nino_assets.service` or `nino serve` (same options)."""

from __future__ import annotations

import argparse
import gc
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nino_assets.shared.paths import DataFolder
from nino_assets.shared.paths import DEFAULT_HOME
from nino_assets.service.access import DEFAULT_RATE_LIMIT, DEFAULT_RATE_WINDOW_SECONDS
from nino_assets.service.app import DEFAULT_MAX_BODY_BYTES, ServiceSettings, create_app
from nino_assets.service.tables import DEFAULT_CELL_LIMIT

API_KEYS_ENV = "NINO_SERVICE_API_KEYS"
DEFAULT_API_KEYS = Path("service") / "api_keys.txt"
"""Under the data folder, unless the environment variable or --api-keys says otherwise."""


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", default=os.environ.get("NINO_HOME", DEFAULT_HOME),
                        help="the data folder, whose outputs/service/releases/ holds the released cubes "
                             "(default: $NINO_HOME or ./data)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--api-keys", help=f"file of API keys, one a line (default: ${API_KEYS_ENV}, or "
                                           f"{DEFAULT_API_KEYS} under the data folder)")
    parser.add_argument("--cell-limit", type=int, default=DEFAULT_CELL_LIMIT, help="largest table, in cells")
    parser.add_argument("--rate-limit", type=int, default=DEFAULT_RATE_LIMIT, help="requests per key per window")
    parser.add_argument("--rate-window", type=float, default=DEFAULT_RATE_WINDOW_SECONDS,
                        help="the rate limit's window, in seconds")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES,
                        help="largest /table request body")


def settings_from(arguments: argparse.Namespace) -> ServiceSettings:
    home = DataFolder(Path(arguments.home).resolve())
    keys = arguments.api_keys or os.environ.get(API_KEYS_ENV) or home.root_path / DEFAULT_API_KEYS
    return ServiceSettings(service_root=home.service, api_keys_file=Path(keys), cell_limit=arguments.cell_limit,
                           rate_limit=arguments.rate_limit, rate_window_seconds=arguments.rate_window,
                           max_body_bytes=arguments.max_body_bytes)


@contextmanager
def serving_in_process(home: Path, api_keys: Path, *options: str) -> Iterator[str]:
    """The service in a process of its own, started as `python -m nino_assets.service` on a free loopback port;
    yields its base URL once it answers, and stops it at the end. For benchmarks and tests."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "nino_assets.service", "--home", str(home), "--port", str(port),
                               "--api-keys", str(api_keys), *options],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/webapi/rest/v1/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}info", timeout=5)
                break
            except urllib.error.HTTPError:  # it answers (the refusal of a request without a key)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the query service did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def serve(arguments: argparse.Namespace) -> int:
    import uvicorn

    settings = settings_from(arguments)
    print(f"Serving the released cubes of {settings.service_root} on "
          f"http://{arguments.host}:{arguments.port}/webapi/rest/v1/ (API keys: {settings.api_keys_file})")
    app = create_app(settings)
    # what is imported lives as long as the service: kept out of the collector's full passes, which would otherwise
    # walk it (hundreds of thousands of objects) while a large response is being built
    gc.freeze()
    uvicorn.run(app, host=arguments.host, port=arguments.port, log_level="info")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nino_assets.service", description=__doc__)
    add_serve_arguments(parser)
    return serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
