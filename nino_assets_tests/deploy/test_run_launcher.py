"""What run monitoring asks the production launcher: whether a run's process still runs."""

from __future__ import annotations

import subprocess
import sys
import time

from nino_assets.shared.instance import process_is_running


def test_a_process_runs_until_it_is_killed_and_a_later_process_is_not_taken_for_it():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert process_is_running(child.pid)
        assert process_is_running(child.pid, since=time.time())
        assert not process_is_running(child.pid, since=time.time() - 3600)  # started after that run began
        child.kill()
        time.sleep(0.5)
        assert not process_is_running(child.pid)  # killed, not yet reaped: a zombie is not running
    finally:
        child.kill()
        child.wait()
    assert not process_is_running(child.pid)
