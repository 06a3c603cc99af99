"""``import deeprecipe`` keeps freed array memory for reuse (glibc only): a training-like
loop of allocate-and-free must not page-fault its arrays in again at every step."""
import subprocess
import sys

import pytest

from deeprecipe.allocator import freed_memory_retained

LOOP = """
import resource, numpy as np
import deeprecipe
from deeprecipe.allocator import freed_memory_retained
def step():
    a = [np.ones(1 << 20, dtype=np.float32) for _ in range(4)]   # 4 x 4 MiB, then freed
    del a
for _ in range(3):
    step()
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0, freed_memory_retained())
"""

glibc_only = pytest.mark.skipif(not sys.platform.startswith("linux") or not freed_memory_retained(),
                                reason="the malloc settings apply to glibc on Linux only")


def _faults(env_extra):
    import os
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "DEEPRECIPE_MALLOC"}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", LOOP], env=env, capture_output=True, text=True, check=True)
    faults, retained = out.stdout.split()
    return int(faults), retained == "True"


@glibc_only
def test_freed_arrays_are_reused_without_page_faults():
    faults, retained = _faults({})
    assert retained
    # 10 steps x 16 MiB would be ~40,000 faults if the memory went back to the OS each time
    assert faults < 200, faults


@glibc_only
def test_opt_out_keeps_the_system_settings():
    faults, retained = _faults({"DEEPRECIPE_MALLOC": "system"})
    assert not retained
    assert faults > 10_000, faults   # the loop above does fault without the settings


@glibc_only
def test_glibc_environment_variables_take_precedence():
    _, retained = _faults({"MALLOC_TRIM_THRESHOLD_": "131072"})
    assert not retained
