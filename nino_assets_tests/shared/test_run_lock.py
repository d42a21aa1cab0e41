"""The data folder's run lock: a run that finds it taken waits, and names the process it waits for even when the
holder has only just taken it (the holder writes its pid just after)."""

import fcntl
import threading
import time

from nino_assets.shared.instance import one_run_at_a_time


def test_a_run_waiting_on_a_lock_just_taken_names_its_holder(tmp_path, capsys):
    holder = (tmp_path / ".run.lock").open("a+", encoding="utf-8")
    fcntl.flock(holder, fcntl.LOCK_EX)  # taken; the pid comes a moment later, as a starting run writes it

    def write_pid_later():
        time.sleep(0.3)
        holder.write("4242")
        holder.flush()

    entered = threading.Event()

    def second_run():
        with one_run_at_a_time(tmp_path):
            entered.set()

    threading.Thread(target=write_pid_later).start()
    waiting = threading.Thread(target=second_run)
    waiting.start()
    time.sleep(1.0)
    assert not entered.is_set()  # it waits while the lock is held
    fcntl.flock(holder, fcntl.LOCK_UN)
    holder.close()
    waiting.join(timeout=10)
    assert entered.is_set()  # and runs once it is free
    assert "Waiting for the nino run of process 4242 on this data folder" in capsys.readouterr().out
