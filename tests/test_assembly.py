"""The assembly's table of which units hold rows of which shard."""

import numpy as np

from mtcnn_data.engine.phases import cut_dtype, shard_holders
from mtcnn_data.engine.workdir import WorkDir
from mtcnn_data.io.files import atomic_save_npy


def test_shard_holders_list_exactly_the_units_with_rows_of_each_shard(tmp_path):
    rng = np.random.default_rng(3)
    work = WorkDir(tmp_path)
    work.cut(0).parent.mkdir(parents=True, exist_ok=True)
    total, per = 1000, 64
    owner = rng.integers(0, 12, total)
    owner[owner == 5] = 6  # unit 5 selects nothing (and has no cut file)
    selected = np.bincount(owner, minlength=12)
    for u in np.flatnonzero(selected):
        rows = np.zeros(selected[u], cut_dtype(12))
        rows["slot"] = np.flatnonzero(owner == u)  # sorted, as the cut phase writes them
        atomic_save_npy(work.cut(int(u)), rows)
    sel = {"samples_per_shard": per, "total": total, "unit_selected": selected.tolist(),
           "shards": [f"shard-{i:05d}.h5" for i in range(-(-total // per))]}
    holders = shard_holders(work, sel)
    assert len(holders) == len(sel["shards"])
    for s, found in enumerate(holders):
        slots = np.arange(s * per, min((s + 1) * per, total))
        expected = sorted(set(owner[slots].tolist()))
        assert [u for u, _, _ in found] == expected
        for u, a, b in found:
            got = np.load(work.cut(u))["slot"][a:b]
            assert np.array_equal(got, slots[owner[slots] == u])
