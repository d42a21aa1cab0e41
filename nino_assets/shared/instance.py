"""The Dagster instance of a data folder, as the `nino` command opens it: set up by one process at a time, and with
the warehouse pool's slots of dead runs given back; and the data folder's run lock, held by each `nino` run.

A run launched by `nino run` executes in the `nino` process and carries that process's id and host as tags. When the
process dies without ending its run (`kill -9`, the OOM killer, a reboot), the run stays STARTED and keeps its slot
of the `warehouse` pool, and every later run waits on that slot. Opening the instance marks such runs failed and
frees their slots; the UI's runs are the daemon's to monitor and are left alone.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

PROCESS_TAG = "nino/pid"
HOST_TAG = "nino/host"


def run_tags() -> dict[str, str]:
    """The tags that let a later `nino` tell whether this process still runs the run."""
    return {PROCESS_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


HOLDER_WAIT_SECONDS = 2.0
"""How long a waiting process reads a lock file again for the pid its holder writes just after taking the lock."""


def _holder(lock) -> str:
    """The pid of the process holding a lock, as it wrote it; a holder that has only just taken the lock may not have
    written it yet, so an empty file is read again for a moment."""
    deadline = time.monotonic() + HOLDER_WAIT_SECONDS
    while True:
        lock.seek(0)
        holder = lock.read().strip()
        if holder or time.monotonic() > deadline:
            return holder or "another process"
        time.sleep(0.01)


@contextmanager
def _exclusive(lock_path: Path, waiting_for: Callable[[str], None] = lambda holder: None) -> Iterator[None]:
    """Hold the kernel's lock (flock) on a file while the block runs, with this process's pid written in it; a
    process that finds it taken tells `waiting_for` the holder's pid, then waits. A killed holder frees it at once."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting_for(_holder(lock))
            fcntl.flock(lock, fcntl.LOCK_EX)
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            lock.truncate(0)
            fcntl.flock(lock, fcntl.LOCK_UN)


def _setup_lock(dagster_home: Path):
    """One process at a time creates or migrates the instance's storage; a second waits for the first."""
    return _exclusive(dagster_home / ".setup.lock")


def one_run_at_a_time(dagster_home: Path):
    """Hold the data folder's run lock while the block runs; a second `nino` run on the folder waits for the first,
    naming it.

    The warehouse pool serialises steps, not runs: two runs of a quarter side by side would each rewrite layers the
    other has checked, and the publication gate would rightly refuse both."""
    return _exclusive(dagster_home / ".run.lock", lambda holder: print(
        f"Waiting for the nino run of process {holder} on this data folder to end (one run at a time writes the "
        "warehouse) ...", flush=True))


def process_is_running(pid: int, since: float | None = None) -> bool:
    """Whether process `pid` of this machine runs (a zombie, killed but not yet reaped, does not) and, given `since`
    (a Unix time), was started by then: a process started later under the same id is another process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
    state, started_ticks = fields[0], int(fields[19])
    if state in ("Z", "X"):
        return False
    if since is None:
        return True
    booted = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                  if line.startswith("btime "))
    return booted + started_ticks / os.sysconf("SC_CLK_TCK") <= since + 1


def _process_is_gone(run: dg.DagsterRun) -> bool:
    pid, host = run.tags.get(PROCESS_TAG), run.tags.get(HOST_TAG)
    if not pid or host != socket.gethostname() or int(pid) == os.getpid():
        return False
    return not process_is_running(int(pid))


def free_slots_of_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail each `nino` run whose process is gone and free the pool slots it holds, as well as those of runs that
    have ended; returns the run ids freed."""
    freed = []
    storage = instance.event_log_storage
    for run_id in sorted(storage.get_concurrency_run_ids()):
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            if not _process_is_gone(run):
                continue
            instance.report_run_failed(run, message=f"its process {run.tags[PROCESS_TAG]} ended without ending the "
                                                    "run (killed or crashed); its pool slots are freed")
        storage.free_concurrency_slots_for_run(run_id)
        freed.append(run_id)
    return freed


def open_instance(dagster_home: Path) -> dg.DagsterInstance:
    """The instance under `dagster_home` (its `dagster.yaml`), set up once whatever starts together, with the slots
    of dead runs given back."""
    with _setup_lock(dagster_home):
        instance = dg.DagsterInstance.from_config(str(dagster_home))
        freed = free_slots_of_dead_runs(instance)
    for run_id in freed:
        print(f"Freed the warehouse pool's slot held by run {run_id}, whose process is gone.")
    return instance
