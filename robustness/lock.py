"""One run per out_dir: a second run into an out_dir that a live run holds is a one-line error naming that run's
process, never a duplicate row; a lock left by a killed run is taken over. Light on imports (a lock needs no torch)."""

import atexit
import os

from robustness.config import fail


def claim(out_dir):
    """Hold `out_dir` for this process: a second run into it while this one lives is a one-line error naming this
    run's process id, never a duplicate row. A lock left by a killed run (its process is gone) is taken over.
    Released at exit."""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, '.lock')
    for _ in range(2):
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                holder = int(open(path).read().strip() or 0)
            except (OSError, ValueError):
                holder = 0
            if holder and holder != os.getpid() and _alive(holder):
                fail(f"out_dir: {out_dir} is in use by another run (process {holder}); wait for it to finish, "
                     f"or choose another --out_dir")
            os.remove(path)  # stale: its run was killed
            continue
        with os.fdopen(descriptor, 'w') as f:
            f.write(str(os.getpid()))
        atexit.register(_release, path, os.getpid())
        return
    fail(f"out_dir: could not lock {out_dir}")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _release(path, pid):
    try:
        if int(open(path).read().strip() or 0) == pid:
            os.remove(path)
    except (OSError, ValueError):
        pass
