from fakedata import make_wider
from mtcnn_data.io.datasets.wider import read_wider, write_wider_subset


def test_subset_keeps_chosen_blocks_byte_for_byte(tmp_path):
    images = [("0--A/a.jpg", 100, 100, [(1, 2, 30, 40), (50, 50, 10, 12, 0, 0, 0, 1, 0, 0)]),
              ("1--B/b.jpg", 100, 100, []),
              ("0--A/c.jpg", 100, 100, [(5, 5, 20, 20)])]
    src = make_wider(tmp_path, "val", images, write_images=False, final_newline=False)
    dst = tmp_path / "sub.txt"
    assert write_wider_subset(src, dst, lambda p: p.startswith("0--A/")) == 2
    want = [r for r in read_wider(src) if r.path.startswith("0--A/")]
    got = list(read_wider(dst))
    assert [r.path for r in got] == ["0--A/a.jpg", "0--A/c.jpg"]
    for a, b in zip(want, got):
        assert (a.boxes == b.boxes).all() and (a.keep == b.keep).all()
    text = dst.read_text()
    assert "50 50 10 12 0 0 0 1 0 0 \n" in text and text.endswith("\n")
    assert write_wider_subset(src, tmp_path / "empty.txt", lambda p: p == "1--B/b.jpg") == 1
    only = list(read_wider(tmp_path / "empty.txt"))
    assert len(only) == 1 and len(only[0].boxes) == 0
