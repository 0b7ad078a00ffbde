"""kill_in_write.py DIR MPIRUN_PID: kill rank 0 of an mpirun job while it writes a checkpoint.

Finds rank 0 among mpirun's descendants (OMPI_COMM_WORLD_RANK=0), waits until DIR holds a
saved run state (run.safetensors) and a temporary file of a later save (*.tmp.*), stops rank 0
there (SIGSTOP), checks the temporary file is still there (the write is not finished) and kills
it (SIGKILL). Exit 0 when the kill landed inside a write, 1 otherwise (within 120 s)."""
import os
import signal
import sys
import time


def ranks(root):
    found, todo = {}, [root]
    while todo:
        p = todo.pop()
        try:
            kids = open(f"/proc/{p}/task/{p}/children").read().split()
        except OSError:
            continue
        for k in map(int, kids):
            todo.append(k)
            try:
                env = open(f"/proc/{k}/environ", "rb").read().split(b"\0")
            except OSError:
                continue
            for e in env:
                if e.startswith(b"OMPI_COMM_WORLD_RANK="):
                    found[int(e.split(b"=", 1)[1])] = k
    return found


def temporaries(d):
    try:
        names = os.listdir(d)
    except OSError:
        return [], False
    return [n for n in names if ".tmp." in n], "run.safetensors" in names


def main():
    d, root = sys.argv[1], int(sys.argv[2])
    t0 = time.time()
    victim = None
    while victim is None and time.time() - t0 < 120:
        victim = ranks(root).get(0)
        time.sleep(0.1)
    if victim is None:
        print("kill_in_write: rank 0 not found")
        return 1
    while time.time() - t0 < 120:
        tmp, saved = temporaries(d)
        if tmp and saved:
            os.kill(victim, signal.SIGSTOP)
            still, _ = temporaries(d)
            if still:
                os.kill(victim, signal.SIGKILL)
                print(f"kill_in_write: rank 0 (pid {victim}) killed while writing {still[0]}")
                return 0
            os.kill(victim, signal.SIGCONT)
        time.sleep(0.0005)
    print("kill_in_write: no checkpoint write caught")
    return 1


sys.exit(main())
