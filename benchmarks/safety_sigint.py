"""SIGINT trials of `zifsim run` with ReaxFF (ZIF-Cu-1, 102 atoms): time from SIGINT to exit.

python benchmarks/safety_sigint.py TREE N WORKDIR   (TREE: the checkout, e.g. $PWD)
Needs ffield_ZnN_2016 in /work/shared/forcefields (or ZIFSIM_FORCEFIELD_DIR). Prints one line per
trial: exit code (130 expected), seconds from SIGINT to exit, run status, "Exception ignored".
"""
import json, os, signal, subprocess, sys, time, random
from pathlib import Path
tree = sys.argv[1]; n = int(sys.argv[2]); base = Path(sys.argv[3])
base.mkdir(parents=True, exist_ok=True)
proto = base / "p.yaml"
proto.write_text("name: sig\ndefaults: {timestep_fs: 0.25, tdamp_fs: 25, thermo_every_fs: 2.5, dump_every_fs: 12.5, checkpoint_every_ps: 0.0125}\n"
                 "stages:\n  - {name: nvt, type: equilibrate, ensemble: nvt, temperature_K: 300, duration_ps: 0.5}\n")
env = dict(os.environ, PYTHONPATH=tree, OMP_NUM_THREADS="1", ZIFSIM_FORCEFIELD_DIR=os.environ.get("ZIFSIM_FORCEFIELD_DIR", "/work/shared/forcefields"))
random.seed(1)
for k in range(n):
    out = base / f"run{k}"
    p = subprocess.Popen([sys.executable, "-m", "zifsim", "run", f"{tree}/structures/ZIF-Cu-1/cell.extxyz", "--protocol", str(proto),
                          "--out", str(out), "--progress", "1000"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ck = out / "00-nvt" / "checkpoint.json"
    while p.poll() is None and not ck.exists():
        time.sleep(0.05)
    time.sleep(random.uniform(0, 3))
    t0 = time.time(); p.send_signal(signal.SIGINT)
    try:
        _, err = p.communicate(timeout=120); dt = time.time() - t0
    except subprocess.TimeoutExpired:
        p.kill(); _, err = p.communicate(); dt = float("inf")
    st = json.loads((out / "metadata.json").read_text())["status"]
    print(f"trial {k}: exit {p.returncode} after {dt:.2f} s, status {st}, 'Exception ignored' in stderr: {'Exception ignored' in err}", flush=True)
